import type { Command } from '../command.js';
import { ForgeError } from '../../errors.js';

export const command: Command = {
  name: 'stats',
  summary: '',
  usage: 'alpaca-forge stats (not built yet)',
  options: {},
  async run() {
    throw new ForgeError('internal', 'stats is not built yet');
  },
};
