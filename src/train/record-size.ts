/** Characters above which a training record is reported: far more than any cutoff keeps (≈ 4 chars per token). */
export const RECORD_WARN_CHARS = 1_000_000;

/**
 * A warning naming the records over RECORD_WARN_CHARS, or null. They still train (only their first --cutoff-len
 * tokens are tokenised and used), but a record that size is usually a mistake in the data: say where it is.
 */
export function oversizedRecordsWarning(sizes: readonly number[], label: string, cutoffLen: number): string | null {
  const big = sizes.flatMap((n, i) => (n > RECORD_WARN_CHARS ? [i] : []));
  if (!big.length) return null;
  const list = big.slice(0, 5).map((i) => `${i + 1} (${(sizes[i]! / 1e6).toFixed(1)} M chars)`).join(', ') + (big.length > 5 ? `, … (${big.length} in all)` : '');
  return `${label}: record${big.length === 1 ? '' : 's'} ${list} over ${RECORD_WARN_CHARS / 1e6} M characters: only the first ${cutoffLen} tokens are trained on (check the data: a record that long is usually a mistake)`;
}
