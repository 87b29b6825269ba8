import type { Command } from '../command.js';
import { ForgeError } from '../../errors.js';

export const command: Command = {
  name: 'sample',
  summary: '',
  usage: 'alpaca-forge sample (not built yet)',
  options: {},
  async run() {
    throw new ForgeError('internal', 'sample is not built yet');
  },
};
