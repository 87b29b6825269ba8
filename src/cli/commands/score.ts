import type { Command } from '../command.js';
import { ForgeError } from '../../errors.js';

export const command: Command = {
  name: 'score',
  summary: '',
  usage: 'alpaca-forge score (not built yet)',
  options: {},
  async run() {
    throw new ForgeError('internal', 'score is not built yet');
  },
};
