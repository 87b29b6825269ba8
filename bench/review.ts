/**
 * Review and stats on a large run: a synthetic run.db of N stored items (default 1,000,000) as a runaway
 * generation leaves one (2% kept, the rest rejected or duplicate, with reasons, 20 items per request and the raw
 * answer stored), written in one transaction with prepared statements. Then, in a fresh process each so RSS is
 * the command's own:
 * - review: open the run and the review session, and read what the first frame shows (counts, the view's size,
 *   the rows on screen, the selected item), then a page down, the bottom, a decision, and the "pending" filter;
 * - stats: the run summary, the response counts and the dataset report of the kept items, as `stats --run` does.
 * Run: node --import tsx bench/review.ts [items]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { RunStore } from '../src/store/run-store.js';

const phase = process.argv[2];
if (phase === '--review') await review(process.argv[3]!);
else if (phase === '--stats') await stats(process.argv[3]!);
else await main(Number(process.argv[2] ?? 1_000_000));

async function main(count: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'forge-bench-review-'));
  try {
    const runDir = join(dir, 'run');
    const t0 = performance.now();
    build(runDir, count);
    const buildS = (performance.now() - t0) / 1000;
    const mb = statSync(join(runDir, 'run.db')).size / 2 ** 20;
    console.log(`built ${count.toLocaleString('en')} items: ${buildS.toFixed(1)} s, run.db ${mb.toFixed(0)} MB`);
    const child = (what: string) => execFileSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, what, runDir], { encoding: 'utf8' }).trim();
    // The first open migrates and builds the new indexes of an older run; a run made by this version has them.
    const r = JSON.parse(child('--review')) as Record<string, number>;
    const s = JSON.parse(child('--stats')) as Record<string, number>;
    console.log(`review first frame ${r['openMs']!.toFixed(0)} ms (RSS ${r['rssMb']!.toFixed(0)} MB); page down ${r['pageDownMs']!.toFixed(0)} ms, bottom ${r['bottomMs']!.toFixed(0)} ms, accept ${r['decideMs']!.toFixed(0)} ms, pending filter ${r['filterMs']!.toFixed(0)} ms, sort by length ${r['sortMs']!.toFixed(0)} ms`);
    console.log(`stats ${s['ms']!.toFixed(0)} ms (summary ${s['summaryMs']!.toFixed(0)} ms, ${s['kept']} kept samples' report ${s['reportMs']!.toFixed(0)} ms; RSS ${s['rssMb']!.toFixed(0)} MB)`);
    console.log(`review ${count.toLocaleString('en')} items: first frame ${(r['openMs']! / 1000).toFixed(2)} s at ${r['rssMb']!.toFixed(0)} MB RSS; stats ${(s['ms']! / 1000).toFixed(2)} s`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
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
  const reasons = ['rouge', 'too-short', 'blacklist:image', 'bad-start', 'too-long'];
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
        const reason = kept ? null : dup ? 'rouge' : reasons[1 + (id % (reasons.length - 1))]!;
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
  run.close();
  console.log(JSON.stringify({ openMs, rssMb: Math.max(rss, rssMb()), pageDownMs, bottomMs, decideMs, filterMs, sortMs }));
}

async function stats(runDir: string): Promise<void> {
  const { ResponseStore } = await import('../src/store/responses.js');
  const { buildDatasetReport } = await import('../src/curate/report.js');
  const t0 = performance.now();
  const store = RunStore.open(runDir);
  const summary = store.summary();
  new ResponseStore(store).counts();
  store.endpointTallies();
  const summaryMs = performance.now() - t0;
  const t1 = performance.now();
  const kept = store.listItems({ status: ['kept'] });
  const total = Object.values(summary.byStatus).reduce((a, b) => a + b, 0);
  buildDatasetReport(kept, { lang: summary.lang, curation: { total, byStatus: summary.byStatus, byReason: summary.byReason } });
  const reportMs = performance.now() - t1;
  store.close();
  console.log(JSON.stringify({ ms: performance.now() - t0, summaryMs, reportMs, kept: kept.length, rssMb: rssMb() }));
}
