import type { RankTiers } from '../../review/rank-facade.js';

/**
 * How far a person's ranking agrees with the judge's: of the pairs the person ordered that the judge also
 * ordered (not tied), the share the judge put the same way round.
 */
export function pairAgreement(human: RankTiers, judge: RankTiers): { agree: number; total: number } {
  const judgeTier = new Map<number, number>();
  judge.forEach((t, i) => t.forEach((id) => judgeTier.set(id, i)));
  let agree = 0;
  let total = 0;
  for (let i = 0; i < human.length; i++) {
    for (let j = i + 1; j < human.length; j++) {
      for (const a of human[i]!) {
        for (const b of human[j]!) {
          const ta = judgeTier.get(a);
          const tb = judgeTier.get(b);
          if (ta === undefined || tb === undefined || ta === tb) continue;
          total++;
          if (ta < tb) agree++;
        }
      }
    }
  }
  return { agree, total };
}
