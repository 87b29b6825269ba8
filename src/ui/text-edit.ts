import type { Key } from 'ink';
import { keyName, typedText } from './keys.js';

/** The state of one text field: its text and the cursor as a string index (always on a code-point boundary). */
export interface TextEdit {
  value: string;
  cursor: number;
}

export function textEdit(value: string, cursor = value.length): TextEdit {
  return { value, cursor: Math.max(0, Math.min(cursor, value.length)) };
}

function prevBoundary(s: string, i: number): number {
  if (i <= 0) return 0;
  const lo = s.charCodeAt(i - 1);
  return lo >= 0xdc00 && lo <= 0xdfff && i >= 2 ? i - 2 : i - 1;
}

function nextBoundary(s: string, i: number): number {
  if (i >= s.length) return s.length;
  const hi = s.charCodeAt(i);
  return hi >= 0xd800 && hi <= 0xdbff && i + 1 < s.length ? i + 2 : i + 1;
}

const lineStart = (s: string, i: number) => s.lastIndexOf('\n', i - 1) + 1;
const lineEnd = (s: string, i: number) => {
  const n = s.indexOf('\n', i);
  return n === -1 ? s.length : n;
};

/**
 * Applies one key press to a field. Returns the new state, or undefined when the key is not an editing key (the
 * caller then looks it up in its text scope: save, cancel, next field…). Enter inserts a newline only in a
 * multi-line field.
 */
export function applyTextKey(state: TextEdit, input: string, key: Key, multiline: boolean): TextEdit | undefined {
  const { value: s, cursor: c } = state;
  const name = keyName(input, key);
  switch (name) {
    case 'left':
      return { value: s, cursor: prevBoundary(s, c) };
    case 'right':
      return { value: s, cursor: nextBoundary(s, c) };
    case 'home':
    case 'ctrl+a':
      return { value: s, cursor: lineStart(s, c) };
    case 'end':
    case 'ctrl+e':
      return { value: s, cursor: lineEnd(s, c) };
    case 'backspace': {
      if (c === 0) return state;
      const p = prevBoundary(s, c);
      return { value: s.slice(0, p) + s.slice(c), cursor: p };
    }
    case 'ctrl+k': {
      const e = lineEnd(s, c);
      // At the end of a line, ctrl+k joins the next line, as in readline/emacs.
      const cut = e === c && c < s.length ? c + 1 : e;
      return { value: s.slice(0, c) + s.slice(cut), cursor: c };
    }
    case 'ctrl+w': {
      let p = c;
      while (p > 0 && /\s/.test(s[p - 1]!)) p--;
      while (p > 0 && !/\s/.test(s[p - 1]!)) p--;
      return { value: s.slice(0, p) + s.slice(c), cursor: p };
    }
    case 'up':
    case 'down': {
      if (!multiline) return undefined;
      const start = lineStart(s, c);
      const col = c - start;
      if (name === 'up') {
        if (start === 0) return undefined;
        const prevStart = lineStart(s, start - 1);
        return { value: s, cursor: Math.min(prevStart + col, start - 1) };
      }
      const end = lineEnd(s, c);
      if (end === s.length) return undefined;
      const nextStart = end + 1;
      return { value: s, cursor: Math.min(nextStart + col, lineEnd(s, nextStart)) };
    }
    case 'return':
      if (!multiline) return undefined;
      return { value: `${s.slice(0, c)}\n${s.slice(c)}`, cursor: c + 1 };
  }
  const text = typedText(input, key);
  if (text === undefined) return undefined;
  const insert = multiline ? text : text.replace(/\n/g, ' ');
  return { value: s.slice(0, c) + insert + s.slice(c), cursor: c + insert.length };
}
