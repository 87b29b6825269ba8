/**
 * RFC 4180 CSV: a header row, then records; fields may be quoted ("a, b"), with "" for a quote inside and line
 * breaks inside quotes. Each record carries the line it starts on, for error messages. A stray quote inside an
 * unquoted field or an unclosed quote is a problem at its line, not a silent misread.
 */
export interface CsvRecord {
  line: number;
  values: Record<string, string>;
}

export type CsvResult = { ok: true; records: CsvRecord[] } | { ok: false; line: number; reason: string };

export function parseCsv(text: string): CsvResult {
  const rows: Array<{ line: number; cells: string[] }> = [];
  let cells: string[] = [];
  let cell = '';
  let line = 1;
  let rowLine = 1;
  let quoted = false;
  let i = 0;
  const body = text.replace(/^\uFEFF/, '');
  const endRow = () => {
    cells.push(cell);
    if (!(cells.length === 1 && cells[0] === '')) rows.push({ line: rowLine, cells });
    cells = [];
    cell = '';
  };
  while (i < body.length) {
    const ch = body[i]!;
    if (quoted) {
      if (ch === '"') {
        if (body[i + 1] === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        quoted = false;
        const next = body[i + 1];
        if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') return { ok: false, line, reason: 'text after a closing quote' };
      } else {
        if (ch === '\n') line++;
        cell += ch;
      }
      i++;
      continue;
    }
    if (ch === '"') {
      if (cell !== '') return { ok: false, line, reason: 'a quote inside an unquoted field (quote the whole field and double the quote)' };
      quoted = true;
    } else if (ch === ',') {
      cells.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && body[i + 1] === '\n') i++;
      endRow();
      line++;
      rowLine = line;
    } else cell += ch;
    i++;
  }
  if (quoted) return { ok: false, line: rowLine, reason: 'a quoted field is never closed' };
  if (cell !== '' || cells.length) endRow();
  const header = rows.shift();
  if (!header) return { ok: true, records: [] };
  const records: CsvRecord[] = [];
  for (const r of rows) {
    if (r.cells.length !== header.cells.length) {
      return { ok: false, line: r.line, reason: `${r.cells.length} fields where the header has ${header.cells.length}` };
    }
    records.push({ line: r.line, values: Object.fromEntries(header.cells.map((h, k) => [h, r.cells[k]!])) });
  }
  return { ok: true, records };
}
