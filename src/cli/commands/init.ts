import type { Command } from '../command.js';
import { ForgeError } from '../../errors.js';

export const command: Command = {
  name: 'init',
  summary: '',
  usage: 'alpaca-forge init (not built yet)',
  options: {},
  async run() {
    throw new ForgeError('internal', 'init is not built yet');
  },
};
