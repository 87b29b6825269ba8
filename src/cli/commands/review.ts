import type { Command } from '../command.js';
import { ForgeError } from '../../errors.js';

export const command: Command = {
  name: 'review',
  summary: '',
  usage: 'alpaca-forge review (not built yet)',
  options: {},
  async run() {
    throw new ForgeError('internal', 'review is not built yet');
  },
};
