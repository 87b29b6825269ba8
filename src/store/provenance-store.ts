import type Database from 'better-sqlite3';
import { z } from 'zod';
import { StoreError, type RunStore } from './run-store.js';

/** Where an item came from (the item_provenance table); method 'source' marks an item of evol's input. */
export interface ItemProvenanceRow {
  itemId: number;
  method: string;
  parentId: number | null;
  rootId: number | null;
  operator: string | null;
  round: number | null;
}

/** An item that can be evolved, as the store holds it. */
export interface EvolvableItem {
  id: number;
  rootId: number;
  round: number;
  instruction: string;
  input: string;
}

/** One round's figures for `stats` and the report: how much the instructions grew. */
export interface RoundStats {
  method: string;
  round: number;
  items: number;
  kept: number;
  meanInstructionChars: number;
  meanConstraints: number;
  /** Mean judge score of the round's judged kept items; null when none is judged. */
  meanJudgeScore: number | null;
  /** Drop reasons of the round and their counts. */
  drops: Record<string, number>;
}

const evolvableRow = z.object({ id: z.number().int(), root_id: z.number().int().nullable(), round: z.number().int().nullable(), instruction: z.string(), input: z.string() });
const roundRow = z.object({ method: z.string(), round: z.number().int(), status: z.string(), reason: z.string().nullable(), instruction: z.string(), input: z.string(), judge_score: z.number().nullable() });
const provRow = z.object({ item_id: z.number().int(), method: z.string(), parent_id: z.number().int().nullable(), root_id: z.number().int().nullable(), operator: z.string().nullable(), round: z.number().int().nullable() });
const countRow = z.object({ n: z.number().int() });
const stepRequestRow = z.object({ id: z.number().int(), status: z.string(), examples_json: z.string(), raw_response: z.string().nullable(), finish_reason: z.string().nullable(), has_items: z.number().int() });

/** One of a step method's requests as the request log holds it. */
export interface StepRequestRow {
  id: number;
  status: string;
  /** What the request recorded: the method, the request kind and the step's state (any JSON: parsed by the method). */
  provenance: unknown;
  raw: string | null;
  finishReason: string | null;
  /** Whether its answer made an item (a last step's, or a first step's drop). */
  hasItems: boolean;
}

/** Words that add a condition to a task; their count is a rough measure of how constrained it is. */
const CONSTRAINT_WORDS = /\b(must|should|at least|at most|no more than|exactly|without|only|avoid|include|under \d+|within|each|every|do not|don't)\b|必须|至少|最多|不超过|不要|只|恰好|每个|避免|包括|以内/gi;

export function constraintCount(text: string): number {
  return text.match(CONSTRAINT_WORDS)?.length ?? 0;
}

function parse<T extends z.ZodType>(schema: T, row: unknown): z.output<T> {
  const r = schema.safeParse(row);
  if (!r.success) throw new StoreError(`run.db: unexpected item_provenance row (${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message})`, 'the run database may be damaged; restore it from a copy');
  return r.data;
}

/** The provenance side of a run's database, sharing the RunStore's connection (as ResponseStore does). */
export class ProvenanceStore {
  private readonly db: Database.Database;
  constructor(private readonly store: RunStore) {
    this.db = store.connection;
  }

  /** Written in the caller's transaction (with the items' response), so an item never exists without its provenance. */
  record(rows: readonly ItemProvenanceRow[]): void {
    const ins = this.db.prepare('INSERT INTO item_provenance(item_id, method, parent_id, root_id, operator, round) VALUES (?, ?, ?, ?, ?, ?)');
    for (const r of rows) ins.run(r.itemId, r.method, r.parentId, r.rootId, r.operator, r.round);
  }

  get(itemId: number): ItemProvenanceRow | undefined {
    const row = this.db.prepare('SELECT * FROM item_provenance WHERE item_id = ?').get(itemId);
    if (row === undefined) return undefined;
    const r = parse(provRow, row);
    return { itemId: r.item_id, method: r.method, parentId: r.parent_id, rootId: r.root_id, operator: r.operator, round: r.round };
  }

  /** The chain from an item's root to the item (the review's tree view). */
  lineage(itemId: number): ItemProvenanceRow[] {
    const out: ItemProvenanceRow[] = [];
    for (let id: number | null = itemId; id !== null && out.length < 1000; ) {
      const p = this.get(id);
      if (!p) break;
      out.unshift(p);
      id = p.parentId;
    }
    return out;
  }

  /** Items evolved from an item, in arrival order (the review's tree view); at most `limit` of them. */
  children(parentId: number, limit = 200): ItemProvenanceRow[] {
    return this.db
      .prepare('SELECT * FROM item_provenance WHERE parent_id = ? ORDER BY item_id LIMIT ?')
      .all(parentId, limit)
      .map((row) => {
        const r = parse(provRow, row);
        return { itemId: r.item_id, method: r.method, parentId: r.parent_id, rootId: r.root_id, operator: r.operator, round: r.round };
      });
  }

  /** True once evol's input has been imported into the run (a resumed run does not import it twice). */
  hasSources(): boolean {
    return parse(countRow, this.db.prepare(`SELECT COUNT(*) AS n FROM item_provenance WHERE method = 'source'`).get()).n > 0;
  }

  /** Imports evol's input (`--from FILE`) as the run's round-0 items, kept as given, in one transaction. */
  importSources(items: ReadonlyArray<{ instruction: string; input: string; output: string }>): number {
    const at = new Date().toISOString();
    const insItem = this.db.prepare(`INSERT INTO items(id, request_id, idx, instruction, input, output, status, reason, detail, created_at) VALUES (?, NULL, 0, ?, ?, ?, 'kept', NULL, 'evol input', ?)`);
    this.db.transaction(() => {
      for (const it of items) {
        const id = this.store.allocateItemId();
        insItem.run(id, it.instruction, it.input, it.output, at);
        this.record([{ itemId: id, method: 'source', parentId: null, rootId: id, operator: null, round: 0 }]);
      }
    })();
    return items.length;
  }

  /**
   * Kept items of a round that can be evolved. Round 0 is the roots: evol's imported input, or (--from-run) every
   * kept item that no evolution made.
   */
  keptOfRound(round: number): EvolvableItem[] {
    const rows =
      round === 0
        ? this.db
            .prepare(
              `SELECT i.id, COALESCE(p.root_id, i.id) AS root_id, 0 AS round, i.instruction, i.input FROM items i LEFT JOIN item_provenance p ON p.item_id = i.id
               WHERE i.status = 'kept' AND (p.item_id IS NULL OR p.round IS NULL OR p.round = 0) ORDER BY i.id`,
            )
            .all()
        : this.db
            .prepare(`SELECT i.id, p.root_id, p.round, i.instruction, i.input FROM items i JOIN item_provenance p ON p.item_id = i.id WHERE i.status = 'kept' AND p.method = 'evol' AND p.round = ? ORDER BY i.id`)
            .all(round);
    return rows.map((row) => {
      const r = parse(evolvableRow, row);
      return { id: r.id, rootId: r.root_id ?? r.id, round: r.round ?? round, instruction: r.instruction, input: r.input };
    });
  }

  /** Parents that already have an evolution (of any status) in `round`: a resumed run does not evolve them again. */
  evolvedParents(round: number): Set<number> {
    const rows = this.db.prepare(`SELECT DISTINCT parent_id AS n FROM item_provenance WHERE method = 'evol' AND round = ? AND parent_id IS NOT NULL`).all(round);
    return new Set(rows.map((r) => parse(countRow, r).n));
  }

  /**
   * A step method's requests (evol of one round, or Magpie's), as recorded when they were sent or queued
   * (requests.examples_json holds the step's state): a rebuilt method counts the ones still queued in a batch and
   * reads again a first step that was answered but never got its second.
   */
  stepRequests(method: 'evol' | 'magpie', round: number | null = null): StepRequestRow[] {
    return this.db
      .prepare(
        `SELECT r.id, r.status, r.examples_json, r.raw_response, r.finish_reason, EXISTS (SELECT 1 FROM items i WHERE i.request_id = r.id) AS has_items FROM requests r
         WHERE r.kind = 'generate' AND json_extract(r.examples_json, '$.method') = ? AND (? IS NULL OR json_extract(r.examples_json, '$.state.round') = ?) ORDER BY r.id`,
      )
      .all(method, round, round)
      .map((row) => {
        const r = parse(stepRequestRow, row);
        return { id: r.id, status: r.status, provenance: JSON.parse(r.examples_json) as unknown, raw: r.raw_response, finishReason: r.finish_reason, hasItems: r.has_items === 1 };
      });
  }

  /** The highest evol round with any item; 0 when none. */
  lastEvolRound(): number {
    return parse(countRow, this.db.prepare(`SELECT COALESCE(MAX(round), 0) AS n FROM item_provenance WHERE method = 'evol'`).get()).n;
  }

  /** Per method and round: counts, mean instruction length, constraint count and judge score of kept items, drops. */
  roundStats(): RoundStats[] {
    const by = new Map<string, RoundStats & { chars: number; constraints: number; judged: number; judgeSum: number }>();
    const rows = this.db
      .prepare(`SELECT p.method, COALESCE(p.round, 0) AS round, i.status, i.reason, i.instruction, i.input, i.judge_score FROM item_provenance p JOIN items i ON i.id = p.item_id`)
      .iterate();
    for (const row of rows) {
      const r = parse(roundRow, row);
      const key = `${r.method}\u0000${r.round}`;
      let s = by.get(key);
      if (!s) by.set(key, (s = { method: r.method, round: r.round, items: 0, kept: 0, meanInstructionChars: 0, meanConstraints: 0, meanJudgeScore: null, drops: {}, chars: 0, constraints: 0, judged: 0, judgeSum: 0 }));
      s.items++;
      if (r.status === 'kept') {
        s.kept++;
        s.chars += [...r.instruction].length + [...r.input].length;
        s.constraints += constraintCount(r.instruction);
        if (r.judge_score !== null) {
          s.judged++;
          s.judgeSum += r.judge_score;
        }
      } else if (r.reason) s.drops[r.reason] = (s.drops[r.reason] ?? 0) + 1;
    }
    return [...by.values()]
      .sort((a, b) => a.method.localeCompare(b.method) || a.round - b.round)
      .map(({ chars, constraints, judged, judgeSum, ...s }) => ({
        ...s,
        meanInstructionChars: s.kept ? chars / s.kept : 0,
        meanConstraints: s.kept ? constraints / s.kept : 0,
        meanJudgeScore: judged ? judgeSum / judged : null,
      }));
  }
}
