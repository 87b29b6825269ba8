import type { Command } from '../command.js';
import { ForgeError } from '../../errors.js';

export const command: Command = {
  name: 'merge',
  summary: '',
  usage: 'alpaca-forge merge (not built yet)',
  options: {},
  async run() {
    throw new ForgeError('internal', 'merge is not built yet');
  },
};
