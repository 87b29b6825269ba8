/**
 * Review and stats on a large run: a synthetic run.db of N stored items (default 1,000,000) as a runaway
 * generation leaves one (2% kept, the rest rejected or duplicate, with reasons, 20 items per request and the raw
 * answer stored), written in one transaction with prepared statements. Then, in a fresh process each so RSS is
 * the command's own:
 * - review: open the run and the review session, and read what the first frame shows (counts, the view's size,
 *   the rows on screen, the selected item), then a page down, the bottom, a decision, and the "pending" filter;
 * - stats: the run summary, the response counts, the dedup report and the dataset report of the kept items, as
 *   `stats --run` does, each timed; then the command itself, in its own process.
 * Run: node --import tsx bench/review.ts [items] [--keep DIR]
 * With --keep, the run is built in DIR once and reused by later runs (building 1M items takes about a minute).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { RunStore } from '../src/store/run-store.js';

const phase = process.argv[2];
if (phase === '--review') await review(process.argv[3]!);
else if (phase === '--stats') await stats(process.argv[3]!);
else {
  const keepAt = process.argv.indexOf('--keep');
  const keep = keepAt === -1 ? undefined : process.argv[keepAt + 1];
  const count = process.argv[2] !== undefined && process.argv[2] !== '--keep' ? Number(process.argv[2]) : 1_000_000;
  await main(count, keep);
}

async function main(count: number, keep: string | undefined): Promise<void> {
  const dir = keep ?? mkdtempSync(join(tmpdir(), 'forge-bench-review-'));
  try {
    const runDir = join(dir, `run-${count}`);
    if (!existsSync(join(runDir, 'run.db'))) {
      const t0 = performance.now();
      build(runDir, count);
      const buildS = (performance.now() - t0) / 1000;
      const mb = statSync(join(runDir, 'run.db')).size / 2 ** 20;
      console.log(`built ${count.toLocaleString('en')} items: ${buildS.toFixed(1)} s, run.db ${mb.toFixed(0)} MB`);
    }
    // A run made before the review indexes and counts migrates on its first open (once): timed apart from the rest.
    const tm = performance.now();
    RunStore.open(runDir).close();
    console.log(`first open (migrating a run of an older schema, once): ${((performance.now() - tm) / 1000).toFixed(1)} s`);
    const child = (what: string) => execFileSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, what, runDir], { encoding: 'utf8' }).trim();
    const r = JSON.parse(child('--review')) as Record<string, number>;
    const s = JSON.parse(child('--stats')) as Record<string, number>;
    console.log(
      `review first frame ${r['openMs']!.toFixed(0)} ms (RSS ${r['rssMb']!.toFixed(0)} MB); page down ${r['pageDownMs']!.toFixed(0)} ms, bottom ${r['bottomMs']!.toFixed(0)} ms, accept ${r['decideMs']!.toFixed(0)} ms, pending filter ${r['filterMs']!.toFixed(0)} ms, sort by length ${r['sortMs']!.toFixed(0)} ms`,
    );
    console.log(`review in the middle: clearing a search keeps #${Math.floor(count / 2)} selected (now at ${r['middleAt']}) ${r['middleMs']!.toFixed(0)} ms, then sort by judge score ${r['middleSortMs']!.toFixed(0)} ms`);
    console.log(
      `stats in-process ${s['ms']!.toFixed(0)} ms: summary ${s['summaryMs']!.toFixed(0)} ms, dedup report ${s['dedupMs']!.toFixed(0)} ms, reading ${s['kept']} kept samples ${s['keptMs']!.toFixed(0)} ms, their lengths ${s['lengthsMs']!.toFixed(0)} ms, verb/object tagging ${s['verbsMs']!.toFixed(0)} ms; RSS ${s['rssMb']!.toFixed(0)} MB`,
    );
    // The command as a user runs it (process start and module loading included).
    const tc = performance.now();
    execFileSync(process.execPath, ['--import', 'tsx', new URL('../src/cli/main.ts', import.meta.url).pathname, 'stats', '--run', runDir, '--json'], { encoding: 'utf8', maxBuffer: 1 << 26 });
    const statsCliS = (performance.now() - tc) / 1000;
    console.log(`\`stats --run --json\` ${statsCliS.toFixed(2)} s`);
    console.log(
      `review ${count.toLocaleString('en')} items: first frame ${(r['openMs']! / 1000).toFixed(2)} s at ${r['rssMb']!.toFixed(0)} MB RSS, accept ${r['decideMs']!.toFixed(0)} ms, sort ${r['sortMs']!.toFixed(0)} ms; stats ${statsCliS.toFixed(2)} s`,
    );
  } finally {
    if (keep === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

function build(runDir: string, count: number): void {
  const store = RunStore.open(runDir, { create: true });
  const db = store.connection;
  const at = new Date().toISOString();
  const insReq = db.prepare(
    `INSERT INTO requests(id, kind, status, started_at, finished_at, examples_json, raw_response, finish_reason, prompt_tokens, completion_tokens, cost_usd, model, endpoint)
     VALUES (?, 'generate', 'ok', ?, ?, '[]', ?, 'stop', 900, 700, 0, 'teacher', 'http://127.0.0.1:8000/v1')`,
  );
  const insItem = db.prepare(
    `INSERT INTO items(id, request_id, idx, instruction, input, output, status, reason, detail, duplicate_of, similarity, similar_json, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?)`,
  );
  const verbs = ['Write', 'Explain', 'List', 'Describe', 'Summarise', 'Translate', 'Classify', 'Rewrite', 'Give', 'Compare'];
  const topics = ['the water cycle', 'a haiku about rain', 'three uses of vinegar', 'how tides work', 'a short story opening', 'the causes of inflation'];
  const reasons = ['duplicate:rouge', 'too-short', 'blacklist:image', 'bad-start', 'too-long'];
  const perRequest = 20;
  db.transaction(() => {
    for (let req = 0; req * perRequest < count; req++) {
      const raw: string[] = [];
      const rows: unknown[][] = [];
      for (let k = 0; k < perRequest && req * perRequest + k < count; k++) {
        const id = req * perRequest + k + 1;
        const instruction = `${verbs[id % verbs.length]} ${topics[(id >> 3) % topics.length]} (variant ${id % 997}).`;
        const output = `An answer to item ${id}: ${topics[id % topics.length]} in a few plain sentences.`;
        const kept = id % 50 === 0;
        const dup = !kept && id % 3 !== 0;
        const status = kept ? 'kept' : dup ? 'duplicate' : 'rejected';
        const reason = kept ? null : dup ? 'duplicate:rouge' : reasons[1 + (id % (reasons.length - 1))]!;
        const score = dup ? 0.7 + (id % 30) / 100 : null;
        raw.push(`${k + 1}. Instruction: ${instruction}\n${k + 1}. Input: <noinput>\n${k + 1}. Output: ${output}`);
        rows.push([id, req + 1, k, instruction, '', output, status, reason, dup ? String(id - 1) : null, score, dup ? `[{"id":"${id - 1}","score":${score}}]` : null, at]);
      }
      insReq.run(req + 1, at, at, raw.join('\n\n'));
      for (const r of rows) insItem.run(...r);
    }
  })();
  store.close();
}

function rssMb(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

async function review(runDir: string): Promise<void> {
  const { storeRunAccess } = await import('../src/review/run-access.js');
  const { ReviewSession } = await import('../src/ui/review/review-session.js');
  const { listTop } = await import('../src/ui/review/item-list.js');
  const height = 40;
  const frame = (s: InstanceType<typeof ReviewSession>) => {
    const c = s.counts;
    const w = s.window(listTop(s.cursor, height, s.total), height);
    return c.total + w.rows.length + s.decidedInView + (s.selected?.id ?? 0);
  };
  const time = (fn: () => void) => {
    const t = performance.now();
    fn();
    return performance.now() - t;
  };
  let session!: InstanceType<typeof ReviewSession>;
  let run!: ReturnType<ReturnType<typeof storeRunAccess>['openReview']>;
  const openMs = time(() => {
    run = storeRunAccess().openReview(runDir);
    session = new ReviewSession(run);
    session.pageSize = height;
    frame(session);
  });
  const rss = rssMb();
  const key = (input: string) => session.handleInput(input, {} as never);
  const pageDownMs = time(() => {
    for (let i = 0; i < 10; i++) key('j');
    frame(session);
  });
  const bottomMs = time(() => {
    key('G');
    frame(session);
  });
  const decideMs = time(() => {
    key('a');
    frame(session);
  });
  const filterMs = time(() => {
    session.filter = { ...session.filter, review: 'pending' };
    frame(session);
  });
  const sortMs = time(() => {
    session.sort = { key: 'length', descending: true };
    frame(session);
  });
  // The cursor on an item in the middle (search #id, then F clears the search and keeps it selected): the list
  // has to find where that item stands.
  const middle = Math.floor(session.counts.total / 2);
  session.sort = { key: 'id', descending: false };
  key('/');
  for (const ch of `#${middle}`) key(ch);
  session.handleInput('', { return: true } as never);
  const middleMs = time(() => {
    key('F');
    frame(session);
  });
  const middleAt = session.cursor;
  const middleSortMs = time(() => {
    key('o');
    frame(session);
  });
  run.close();
  console.log(JSON.stringify({ openMs, rssMb: Math.max(rss, rssMb()), pageDownMs, bottomMs, decideMs, filterMs, sortMs, middleMs, middleSortMs, middleAt }));
}

async function stats(runDir: string): Promise<void> {
  const { ResponseStore } = await import('../src/store/responses.js');
  const { buildDatasetReport } = await import('../src/curate/report.js');
  const { dedupReport } = await import('../src/curate/dedup-report.js');
  const t0 = performance.now();
  const store = RunStore.open(runDir);
  const summary = store.summary();
  new ResponseStore(store).counts();
  store.endpointTallies();
  const summaryMs = performance.now() - t0;
  const t1 = performance.now();
  const dedup = dedupReport(store.duplicateRemovals());
  const dedupMs = performance.now() - t1;
  const t2 = performance.now();
  const kept = store.listItems({ status: ['kept'] });
  const keptMs = performance.now() - t2;
  const total = Object.values(summary.byStatus).reduce((a, b) => a + b, 0);
  const t3 = performance.now();
  const lengthsOnly = buildDatasetReport(kept, { lang: summary.lang, verbSample: 0 });
  const lengthsMs = performance.now() - t3;
  const t4 = performance.now();
  buildDatasetReport(kept, { lang: summary.lang, curation: { total, byStatus: summary.byStatus, byReason: summary.byReason }, dedup });
  const reportMs = performance.now() - t4;
  store.close();
  void lengthsOnly;
  console.log(JSON.stringify({ ms: performance.now() - t0, summaryMs, dedupMs, keptMs, lengthsMs, verbsMs: reportMs - lengthsMs, reportMs, kept: kept.length, rssMb: rssMb() }));
}
