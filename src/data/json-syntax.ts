/**
 * Where a JSON text stops being JSON, as 1-based line and column: V8's messages give a byte position at best
 * ("… in JSON at position 18734") and none for an unexpected token, so the text is scanned again to find it.
 */
export interface JsonSyntaxProblem {
  line: number;
  column: number;
  /** V8's reason without the position or the echoed text, e.g. "Unexpected token '}'". */
  reason: string;
}

/** Parses `text`; on a syntax error returns the problem instead of throwing. */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false; problem: JsonSyntaxProblem } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, problem: locateJsonSyntaxError(text, (e as Error).message) };
  }
}

export function locateJsonSyntaxError(text: string, message: string): JsonSyntaxProblem {
  let offset = firstErrorOffset(text);
  if (offset < 0) {
    const m = /at position (\d+)/.exec(message);
    offset = m ? Number(m[1]) : text.length;
  }
  const before = text.slice(0, offset);
  const lastNl = before.lastIndexOf('\n');
  const line = before.length - before.replaceAll('\n', '').length + 1;
  const reason = message
    .replace(/, (?:\.\.\.)?".*" is not valid JSON$/s, '')
    .replace(/ in JSON at position \d+.*$/s, '')
    .trim();
  return { line, column: offset - lastNl, reason: reason || 'not valid JSON' };
}

const WS = new Set([' ', '\t', '\n', '\r']);
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Offset of the first character that makes `t` invalid JSON (t.length for an early end), or -1 if it is valid. */
function firstErrorOffset(t: string): number {
  let i = 0;
  const fail = (): never => {
    throw new JsonStop(i);
  };
  const ws = () => {
    while (i < t.length && WS.has(t[i]!)) i++;
  };
  const str = () => {
    i++; // opening quote
    for (;;) {
      const c = t[i];
      if (c === undefined || c < ' ') fail();
      if (c === '"') return void i++;
      if (c === '\\') {
        i++;
        const esc = t[i];
        if (esc !== undefined && '"\\/bfnrt'.includes(esc)) i++;
        else if (esc === 'u') {
          i++;
          for (let k = 0; k < 4; k++, i++) if (!/[0-9a-fA-F]/.test(t[i] ?? '')) fail();
        } else fail();
      } else i++;
    }
  };
  const value = (): void => {
    ws();
    const c = t[i];
    if (c === '{') {
      i++;
      ws();
      if (t[i] === '}') return void i++;
      for (;;) {
        ws();
        if (t[i] !== '"') fail();
        str();
        ws();
        if (t[i] !== ':') fail();
        i++;
        value();
        ws();
        if (t[i] === ',') i++;
        else if (t[i] === '}') return void i++;
        else fail();
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (t[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (t[i] === ',') i++;
        else if (t[i] === ']') return void i++;
        else fail();
      }
    }
    if (c === '"') return str();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      if (!NUMBER.test(t)) fail();
      i = NUMBER.lastIndex;
      return;
    }
    for (const lit of ['true', 'false', 'null']) {
      if (c !== lit[0]) continue;
      let k = 0;
      while (k < lit.length && t[i + k] === lit[k]) k++;
      i += k;
      if (k === lit.length) return;
      fail();
    }
    fail();
  };
  try {
    value();
    ws();
    return i < t.length ? i : -1;
  } catch (e) {
    if (e instanceof JsonStop) return e.offset;
    throw e;
  }
}

class JsonStop {
  constructor(readonly offset: number) {}
}
