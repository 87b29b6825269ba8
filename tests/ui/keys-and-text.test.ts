import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Key } from 'ink';
import { commandFor, keyName, keyNames, keyTable, splitKeyChunk } from '../../src/ui/keys.js';
import { applyTextKey, textEdit } from '../../src/ui/text-edit.js';

const none: Key = {
  upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageDown: false, pageUp: false, home: false, end: false,
  return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false, meta: false,
  super: false, hyper: false, capsLock: false, numLock: false,
};
const k = (over: Partial<Key>): Key => ({ ...none, ...over });

test('no key is bound twice within a scope', () => {
  for (const [scope, commands] of Object.entries(keyTable)) {
    const seen = new Map<string, string>();
    for (const [cmd, b] of Object.entries(commands)) {
      for (const key of b.keys) {
        assert.ok(!seen.has(key), `${scope}: "${key}" is bound to both ${seen.get(key)} and ${cmd}`);
        seen.set(key, cmd);
      }
    }
  }
});

test('scopes active while a text field has focus bind no printable key', () => {
  for (const scope of ['lineText', 'formText'] as const) {
    for (const b of Object.values(keyTable[scope])) {
      for (const key of b.keys) assert.ok([...key].length > 1, `${scope} binds "${key}", which would be typed into the field`);
    }
  }
});

test('key names: letters as typed, named keys and chords by name', () => {
  assert.equal(keyName('a', none), 'a');
  assert.equal(keyName('E', k({ shift: true })), 'E');
  assert.equal(keyName('s', k({ ctrl: true })), 'ctrl+s');
  assert.equal(keyName('', k({ tab: true, shift: true })), 'shift+tab');
  assert.equal(keyName('', k({ delete: true })), 'backspace');
  assert.equal(commandFor('review', keyName('', k({ downArrow: true }))), 'down');
  assert.equal(commandFor('review', 'x'), 'reject');
  assert.equal(commandFor('formText', 'x'), undefined);
  assert.deepEqual(keyNames('ax ', none), ['a', 'x', 'space']);
});

test('text editing: insert at the cursor, backspace, line moves, and enter only in multi-line fields', () => {
  let s = textEdit('hello world', 5);
  s = applyTextKey(s, ',', none, false)!;
  assert.deepEqual(s, { value: 'hello, world', cursor: 6 });
  s = applyTextKey(s, '', k({ delete: true }), false)!;
  assert.deepEqual(s, { value: 'hello world', cursor: 5 });
  assert.equal(applyTextKey(s, '\r', k({ return: true }), false), undefined, 'enter is the form\'s in a one-line field');
  const m = applyTextKey(textEdit('ab', 1), '\r', k({ return: true }), true)!;
  assert.deepEqual(m, { value: 'a\nb', cursor: 2 });
  // up from the second line keeps the column where it can
  const up = applyTextKey(textEdit('abcd\nxy', 7), '', k({ upArrow: true }), true)!;
  assert.equal(up.cursor, 2);
  assert.equal(applyTextKey(textEdit('abcd', 2), '', k({ upArrow: true }), true), undefined, 'up on the first line leaves the field');
  const word = applyTextKey(textEdit('one two  ', 9), 'w', k({ ctrl: true }), false)!;
  assert.equal(word.value, 'one ');
  // a pasted multi-line chunk keeps its newlines only where newlines belong
  assert.equal(applyTextKey(textEdit(''), 'a\r\nb', none, true)!.value, 'a\nb');
  assert.equal(applyTextKey(textEdit(''), 'a\r\nb', none, false)!.value, 'a b');
  // surrogate pairs move and delete as one character
  const emoji = applyTextKey(textEdit('a😀', 3), '', k({ delete: true }), false)!;
  assert.deepEqual(emoji, { value: 'a', cursor: 1 });
});

test('a chunk of several keys is split into its keys: control keys apart, typed text together', () => {
  const typeChunk = (start: ReturnType<typeof textEdit>, chunk: string) =>
    splitKeyChunk(chunk, none).reduce((st, e) => applyTextKey(st, e.input, e.key, true) ?? st, start);
  // backspace held down arrives as one chunk of DEL bytes
  assert.deepEqual(typeChunk(textEdit('52000'), '\u007f\u007f\u007f'), { value: '52', cursor: 2 });
  assert.deepEqual(typeChunk(textEdit('0'), '\u007f40'), { value: '40', cursor: 2 });
  // ctrl+e then text, read at once: the text goes at the end (CI lost the ctrl+e and typed at the start)
  assert.deepEqual(typeChunk(textEdit('Plot.', 0), '\u0005 Brief.'), { value: 'Plot. Brief.', cursor: 12 });
  const keys = splitKeyChunk('ab\u0013', none);
  assert.deepEqual(keys.map((e) => keyName(e.input, e.key)), ['ab', 'ctrl+s'], 'text, then ctrl+s for the form to save');
  assert.equal(splitKeyChunk('a\r\nb\tc', none).length, 1, 'a paste with line breaks and tabs stays one insert');
  assert.deepEqual(splitKeyChunk('\u0005', k({ ctrl: true })), [{ input: '\u0005', key: k({ ctrl: true }) }], 'a lone key is left as ink parsed it');
});
