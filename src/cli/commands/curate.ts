import type { Command } from '../command.js';
import { ForgeError } from '../../errors.js';

export const command: Command = {
  name: 'curate',
  summary: '',
  usage: 'alpaca-forge curate (not built yet)',
  options: {},
  async run() {
    throw new ForgeError('internal', 'curate is not built yet');
  },
};
