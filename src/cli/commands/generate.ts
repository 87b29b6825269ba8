import type { Command } from '../command.js';
import { ForgeError } from '../../errors.js';

export const command: Command = {
  name: 'generate',
  summary: '',
  usage: 'alpaca-forge generate (not built yet)',
  options: {},
  async run() {
    throw new ForgeError('internal', 'generate is not built yet');
  },
};
