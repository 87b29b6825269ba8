import type { Command } from '../command.js';
import { ForgeError } from '../../errors.js';

export const command: Command = {
  name: 'plan',
  summary: '',
  usage: 'alpaca-forge plan (not built yet)',
  options: {},
  async run() {
    throw new ForgeError('internal', 'plan is not built yet');
  },
};
