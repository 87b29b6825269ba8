import type { Command } from '../command.js';
import { ForgeError } from '../../errors.js';

export const command: Command = {
  name: 'train',
  summary: '',
  usage: 'alpaca-forge train (not built yet)',
  options: {},
  async run() {
    throw new ForgeError('internal', 'train is not built yet');
  },
};
