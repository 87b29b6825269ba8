import { z } from 'zod';
import { DataError } from '../errors.js';
import { parseJsonAnswer, rateWithRetries, renderJudgePrompt, type JudgeOutcome, type JudgePrompt, type JudgeRunOptions, type ParsedAnswer, type RatingFormat } from '../curate/judge.js';
import { ResponseStore, type Ratings, type StoredResponse, type Tiers } from '../store/responses.js';
import type { RunStore } from '../store/run-store.js';

/**
 * The judge's ranking of candidate responses (curate --rank): each response is rated on its own, UltraFeedback
 * style, 1–10 for helpfulness, honesty and instruction following; its rating is their mean, and an item's
 * responses are ordered by it. Equal ratings are a tie: they share a tier, and no preference pair comes from them.
 */

const aspect = z.union([z.number(), z.string().regex(/^\s*\d+(?:\.\d+)?\s*$/).transform(Number)]).pipe(z.number().min(1).max(10));
const rankAnswerSchema = z.object({ helpfulness: aspect, honesty: aspect, instruction_following: aspect, reason: z.string().default('') });

export interface RankAnswer {
  ratings: Ratings;
  rating: number;
  reason: string;
}

export function parseRankAnswer(text: string): ParsedAnswer<RankAnswer> {
  const r = parseJsonAnswer(text, rankAnswerSchema, '{"helpfulness": 1-10, "honesty": 1-10, "instruction_following": 1-10, "reason": "…"}');
  if (!r.ok) return r;
  const ratings = { helpfulness: r.value.helpfulness, honesty: r.value.honesty, instructionFollowing: r.value.instruction_following };
  return { ok: true, value: { ratings, rating: meanRating(ratings), reason: r.value.reason.trim() } };
}

/** Rounded to 1/1000 so that equal aspect scores always give exactly equal ratings (a tie). */
export function meanRating(r: Ratings): number {
  return Math.round(((r.helpfulness + r.honesty + r.instructionFollowing) / 3) * 1000) / 1000;
}

const rankFormat: RatingFormat<RankAnswer> = {
  parse: parseRankAnswer,
  repair: {
    en: 'Your answer could not be read. Reply with only a JSON object: {"helpfulness": <1-10>, "honesty": <1-10>, "instruction_following": <1-10>, "reason": "<one sentence>"}',
    zh: '无法解析你的回答。请只回复一个 JSON 对象：{"helpfulness": <1-10>, "honesty": <1-10>, "instruction_following": <1-10>, "reason": "<一句话理由>"}',
  },
};

/** Responses in tiers by rating, best first; ids in idx order inside a tier. Null if a response has no rating. */
export function tiersByRating(responses: StoredResponse[]): Tiers | null {
  if (responses.some((r) => r.rating === null)) return null;
  const byRating = new Map<number, number[]>();
  for (const r of [...responses].sort((a, b) => a.idx - b.idx)) {
    const tier = byRating.get(r.rating!);
    if (tier) tier.push(r.id);
    else byRating.set(r.rating!, [r.id]);
  }
  return [...byRating.entries()].sort((a, b) => b[0] - a[0]).map(([, ids]) => ids);
}

export interface RankOutcome {
  judge: JudgeOutcome;
  /** Items the judge has a complete order of now. */
  ranked: number;
  /** Of those, items with at least one tie. */
  withTies: number;
  /** Items with a response still unrated (unreadable answer, failed request, or not reached): no judge order. */
  incomplete: number;
}

/**
 * Rates the unrated responses (all of them with cfg.rejudge) of the run's usable samples that have two or more,
 * then records the judge's order of each sample whose responses are all rated. Re-running continues where an
 * interrupted or budget-stopped pass left off.
 */
export async function rankRun(store: RunStore, o: Omit<JudgeRunOptions, 'sink'> & { prompt: JudgePrompt }): Promise<RankOutcome> {
  const rs = new ResponseStore(store);
  const byItem = rs.responsesByItem();
  const items = store.usableItems().filter((i) => (byItem.get(i.id)?.length ?? 0) >= 2);
  if (items.length === 0) {
    throw new DataError(`${store.dir}: no sample has two or more responses to rank`, `give the samples candidate responses first: alpaca-forge respond --run ${store.dir} --responses K`);
  }
  const itemOf = new Map<number, number>();
  const tasks = items.flatMap((item) =>
    byItem
      .get(item.id)!
      .filter((r) => o.cfg.rejudge || r.rating === null)
      .map((r) => {
        itemOf.set(r.id, item.id);
        return { id: r.id, prompt: renderJudgePrompt(o.prompt, { instruction: item.instruction, input: item.input, output: r.text ?? '' }, o.lang), rated: r.rating !== null };
      }),
  );
  const { prompt: _prompt, ...rest } = o;
  const judge = await rateWithRetries(tasks, {
    ...rest,
    noun: 'responses',
    format: rankFormat,
    sink: {
      rated: (id, v) => rs.setRating(id, v.ratings, v.rating, v.reason),
      unrated: (id, reason) => rs.setRating(id, null, null, reason),
      recordRequest: ({ id, ...r }) => rs.recordRankRequest({ itemId: itemOf.get(id)!, ...r }),
    },
  });
  const after = rs.responsesByItem();
  const current = rs.currentRankings('judge');
  let ranked = 0;
  let withTies = 0;
  let incomplete = 0;
  for (const item of items) {
    const tiers = tiersByRating(after.get(item.id) ?? []);
    if (!tiers) {
      incomplete++;
      continue;
    }
    ranked++;
    if (tiers.some((t) => t.length > 1)) withTies++;
    // Unchanged orders are not written again, so re-runs do not pile up superseded rows.
    if (JSON.stringify(current.get(item.id)?.tiers) !== JSON.stringify(tiers)) rs.setJudgeRanking(item.id, tiers);
  }
  return { judge, ranked, withTies, incomplete };
}
