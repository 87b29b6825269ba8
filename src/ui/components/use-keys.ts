import { useInput, type Key } from 'ink';
import { splitKeyChunk } from '../keys.js';

/**
 * ink's useInput, one call per key: a read that carries several keys (ctrl+e and the text typed after it) is split
 * first, so no screen loses a control key to typing speed. Handlers keep their state in refs, so each key sees the
 * previous one's effect.
 */
export function useKeys(handler: (input: string, key: Key) => void, options?: { isActive?: boolean }): void {
  useInput((input, key) => {
    for (const k of splitKeyChunk(input, key)) handler(k.input, k.key);
  }, options);
}
