import type { Key } from 'ink';

/**
 * The one key table of the terminal UI: for each scope, command → keys (and the line the help overlay shows).
 * Components never compare raw keys; they ask `commandFor(scope, keyName(input, key))`.
 *
 * Scopes whose name ends in "Text" are active while a text field has focus: they hold no printable keys, so
 * every letter typed there goes into the field and never triggers a command.
 */
export interface Binding {
  keys: readonly string[];
  help: string;
}

const navigation = {
  down: { keys: ['j', 'down'], help: 'next' },
  up: { keys: ['k', 'up'], help: 'previous' },
  pageDown: { keys: ['pagedown', 'ctrl+d', 'space'], help: 'page down' },
  pageUp: { keys: ['pageup', 'ctrl+u'], help: 'page up' },
  top: { keys: ['g', 'home'], help: 'first' },
  bottom: { keys: ['G', 'end'], help: 'last' },
} as const satisfies Record<string, Binding>;

export const keyTable = {
  review: {
    ...navigation,
    accept: { keys: ['a'], help: 'accept' },
    reject: { keys: ['x'], help: 'reject (soft: the sample stays in the run)' },
    skip: { keys: ['s'], help: 'skip (decide later)' },
    clear: { keys: ['c'], help: 'clear the decision' },
    edit: { keys: ['e'], help: 'edit instruction/input/output in place' },
    editExternal: { keys: ['E'], help: 'edit in $EDITOR' },
    undo: { keys: ['u'], help: 'undo (repeat to go further back)' },
    search: { keys: ['/'], help: 'search text (#ID jumps to an id)' },
    filter: { keys: ['f'], help: 'filter by status, review, reason, judge score' },
    clearFilter: { keys: ['F'], help: 'clear filter and search' },
    sort: { keys: ['o'], help: 'sort: arrival → judge score → similarity → length' },
    reverseSort: { keys: ['O'], help: 'reverse the sort' },
    export: { keys: ['w'], help: 'export accepted samples' },
    cluster: { keys: ['d'], help: 'duplicate cluster: the item kept and its duplicates side by side' },
    tree: { keys: ['t'], help: 'evolution tree: from the root seed to this item, with what evolved from it' },
    help: { keys: ['?'], help: 'this help' },
    quit: { keys: ['q', 'ctrl+c'], help: 'quit (every decision is already saved)' },
  },
  /** The duplicate cluster view of review: the survivor beside its duplicates. */
  cluster: {
    down: { keys: ['j', 'down'], help: 'next duplicate' },
    up: { keys: ['k', 'up'], help: 'previous duplicate' },
    swap: { keys: ['s'], help: 'make the selected duplicate the survivor (accept it, reject the survivor)' },
    restore: { keys: ['r'], help: 'restore the selected duplicate (accept it)' },
    confirm: { keys: ['return', 'y'], help: 'confirm: accept the survivor, reject the undecided duplicates' },
    undo: { keys: ['u'], help: 'undo the last decision (repeat to go further back)' },
    back: { keys: ['escape', 'd', 'q'], help: 'back to the list' },
  },
  /** The evolution tree of review (Evol-Instruct provenance): root → … → item, and the item's children. */
  tree: {
    down: { keys: ['j', 'down'], help: 'next step' },
    up: { keys: ['k', 'up'], help: 'previous step' },
    open: { keys: ['return', 'l', 'right'], help: 'centre the tree on the selected step (its chain and its children)' },
    parent: { keys: ['h', 'left'], help: 'centre the tree on the parent' },
    back: { keys: ['escape', 't', 'q'], help: 'back to the list' },
  },
  /** Ranking the candidate responses of a sample (review --rank). Digits name a response while picking. */
  rank: {
    scrollDown: { keys: ['j', 'down'], help: 'scroll the responses down' },
    scrollUp: { keys: ['k', 'up'], help: 'scroll the responses up' },
    pageDown: { keys: ['pagedown', 'ctrl+d', 'space'], help: 'page down' },
    pageUp: { keys: ['pageup', 'ctrl+u'], help: 'page up' },
    next: { keys: ['n', 'right'], help: 'next sample' },
    previous: { keys: ['p', 'left'], help: 'previous sample' },
    best: { keys: ['b'], help: 'pick the best, then the worst, by number' },
    order: { keys: ['o'], help: 'order them all: numbers from best to worst' },
    pick: { keys: ['1', '2', '3', '4', '5', '6', '7', '8', '9'], help: 'a response, by its number (while picking)' },
    cancel: { keys: ['escape', 'backspace'], help: 'cancel the pick' },
    skip: { keys: ['s'], help: 'skip (decide later)' },
    undo: { keys: ['u'], help: 'undo the last decision (repeat to go further back)' },
    help: { keys: ['?'], help: 'this help' },
    quit: { keys: ['q', 'ctrl+c'], help: 'quit (every decision is already saved)' },
  },
  home: {
    ...navigation,
    open: { keys: ['return', 'r'], help: 'review the run' },
    generate: { keys: ['n'], help: 'new generation' },
    resume: { keys: ['R'], help: 'resume generating the run' },
    curate: { keys: ['c'], help: 'curate the run' },
    train: { keys: ['t'], help: 'train on the run' },
    respond: { keys: ['a'], help: 'ask for K candidate answers per sample (respond)' },
    judge: { keys: ['J'], help: 'judge the run: score the samples, or rank the candidate answers' },
    refresh: { keys: ['l'], help: 'reload the list' },
    help: { keys: ['?'], help: 'this help' },
    quit: { keys: ['q', 'ctrl+c'], help: 'quit' },
  },
  generate: {
    pause: { keys: ['p'], help: 'pause / resume (requests in flight finish)' },
    stop: { keys: ['q', 'ctrl+c'], help: 'stop cleanly (the run stays resumable); again to leave' },
    help: { keys: ['?'], help: 'this help' },
  },
  train: {
    stop: { keys: ['q', 'ctrl+c'], help: 'stop and save a checkpoint; again to leave' },
    help: { keys: ['?'], help: 'this help' },
  },
  respond: {
    stop: { keys: ['q', 'ctrl+c'], help: 'stop cleanly (answers in flight are saved; run again to resume); again to leave' },
    help: { keys: ['?'], help: 'this help' },
  },
  judge: {
    stop: { keys: ['q', 'ctrl+c'], help: 'stop cleanly (ratings so far are saved; run again to continue); again to leave' },
    help: { keys: ['?'], help: 'this help' },
  },
  overlay: {
    close: { keys: ['escape', 'q', '?', 'return'], help: 'close' },
  },
  /** A one-line text field (search). */
  lineText: {
    submit: { keys: ['return'], help: 'keep' },
    cancel: { keys: ['escape', 'ctrl+c'], help: 'cancel' },
  },
  /** A form of several fields (edit, filter, export, new run). */
  formText: {
    save: { keys: ['ctrl+s'], help: 'save / start' },
    cancel: { keys: ['escape', 'ctrl+c'], help: 'cancel' },
    submit: { keys: ['return'], help: 'apply (in one-line fields)' },
    nextField: { keys: ['tab', 'down'], help: 'next field' },
    prevField: { keys: ['shift+tab', 'up'], help: 'previous field' },
  },
} as const satisfies Record<string, Record<string, Binding>>;

export type Scope = keyof typeof keyTable;
export type CommandOf<S extends Scope> = keyof (typeof keyTable)[S] & string;

/** A stable name for a key press: a printable character as typed ('a', 'E', '/'), or a named key ('ctrl+s', 'up'). */
export function keyName(input: string, key: Key): string {
  if (key.upArrow) return 'up';
  if (key.downArrow) return 'down';
  if (key.leftArrow) return 'left';
  if (key.rightArrow) return 'right';
  if (key.pageUp) return 'pageup';
  if (key.pageDown) return 'pagedown';
  if (key.home) return 'home';
  if (key.end) return 'end';
  if (key.return) return 'return';
  if (key.escape) return 'escape';
  if (key.tab) return key.shift ? 'shift+tab' : 'tab';
  // Terminals send DEL (0x7f) for the Backspace key, which ink reports as `delete`.
  if (key.backspace || key.delete) return 'backspace';
  if (key.ctrl && input.length === 1) return `ctrl+${input.toLowerCase()}`;
  if (key.meta && input.length === 1) return `meta+${input}`;
  if (input === ' ') return 'space';
  return input;
}

const index = new Map<string, Map<string, string>>();
for (const [scope, commands] of Object.entries(keyTable)) {
  const m = new Map<string, string>();
  for (const [command, binding] of Object.entries(commands as Record<string, Binding>)) {
    for (const k of binding.keys) m.set(k, command);
  }
  index.set(scope, m);
}

export function commandFor<S extends Scope>(scope: S, name: string): CommandOf<S> | undefined {
  return index.get(scope)?.get(name) as CommandOf<S> | undefined;
}

/** Printable text a key press carries into a text field (undefined for named keys and modifier chords). */
export function typedText(input: string, key: Key): string | undefined {
  if (key.ctrl || key.meta || key.escape || key.return || key.tab || key.backspace || key.delete) return undefined;
  if (key.upArrow || key.downArrow || key.leftArrow || key.rightArrow || key.pageUp || key.pageDown || key.home || key.end) return undefined;
  if (input === '') return undefined;
  // Control characters other than newline never belong in a sample's text.
  const clean = input.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0009\u000b-\u001f\u007f]/g, '');
  return clean === '' ? undefined : clean;
}

/** Control characters that are keys of their own. Tab, CR and LF stay text: a paste carries them. */
const controlKey = /[\u0001-\u0008\u000b\u000c\u000e-\u001a\u007f]/;
const controlKeys = new RegExp(`(${controlKey.source})`);

/**
 * One input event as the keys in it. A terminal read can carry several keys at once when they are typed faster than
 * the screen reads them: ctrl+e and the text after it, or backspace held down. Ink parses escape sequences apart but
 * not control characters, so such a chunk would arrive as one unknown key and the control key would be lost. Runs
 * of plain text stay together (a paste is one insert); each control character becomes its own key.
 */
export function splitKeyChunk(input: string, key: Key): Array<{ input: string; key: Key }> {
  if (input.length <= 1 || !controlKey.test(input)) return [{ input, key }];
  const plain: Key = { ...key, ctrl: false, meta: false, backspace: false, delete: false };
  const out: Array<{ input: string; key: Key }> = [];
  for (const part of input.split(controlKeys)) {
    if (part === '') continue;
    const code = part.length === 1 ? part.charCodeAt(0) : -1;
    if (!controlKey.test(part)) out.push({ input: part, key: plain });
    // DEL and ^H are the Backspace key; ^A..^Z are ctrl with the letter, as ink reports a lone one.
    else if (code === 0x7f || code === 0x08) out.push({ input: '', key: { ...plain, backspace: true } });
    else out.push({ input: String.fromCharCode(code + 0x60), key: { ...plain, ctrl: true } });
  }
  return out;
}

/** Key names as the help overlay and hints print them. */
export function displayKeys(keys: readonly string[]): string {
  const names: Record<string, string> = { up: '↑', down: '↓', left: '←', right: '→', return: 'enter', escape: 'esc', pagedown: 'pgdn', pageup: 'pgup' };
  return keys.map((k) => names[k] ?? k).join('/');
}

export function helpRows(scope: Scope): Array<{ keys: string; help: string }> {
  return Object.values(keyTable[scope] as Record<string, Binding>).map((b) => ({ keys: displayKeys(b.keys), help: b.help }));
}

/**
 * Key names of one input event. Text that arrives in one chunk (keys typed faster than the terminal is read, or
 * pasted) is split into single keys, so `ax` is an accept and then a reject, not an unknown key.
 */
export function keyNames(input: string, key: Key): string[] {
  const named = keyName(input, key);
  if (named !== input || input.length <= 1) return [named];
  return [...input].map((ch) => (ch === ' ' ? 'space' : ch));
}

/** The one-line reminder at the bottom of a screen: first key and name of each command given. */
export function hintLine<S extends Scope>(scope: S, commands: readonly CommandOf<S>[]): string {
  const table = keyTable[scope] as Record<string, Binding>;
  return commands.map((c) => `${displayKeys([table[c]!.keys[0]!])} ${c}`).join('  ');
}
