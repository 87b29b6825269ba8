import type { Command } from '../command.js';
import { ForgeError } from '../../errors.js';

export const command: Command = {
  name: 'export',
  summary: '',
  usage: 'alpaca-forge export (not built yet)',
  options: {},
  async run() {
    throw new ForgeError('internal', 'export is not built yet');
  },
};
