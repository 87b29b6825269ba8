import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalQuantile, requestsToFill, shouldSend, YieldEstimator } from '../../src/generate/yield-estimator.js';

/** An estimator fed `n` answers of `yieldAt(i)` kept each. */
function fed(window: number, n: number, yieldAt: (i: number) => number): YieldEstimator {
  const y = new YieldEstimator(window, 20);
  for (let i = 0; i < n; i++) y.observe(yieldAt(i));
  return y;
}

test('before any answer the estimate is the prior; the first answer replaces it', () => {
  const y = new YieldEstimator(64, 20);
  assert.equal(y.perRequest(), 20);
  y.observe(4);
  assert.equal(y.perRequest(), 4);
});

test('a falling yield is forecast where it is going, not where its moving average lags', () => {
  // 12 kept per request, falling by 0.01 an answer, with ±1 of noise: at answer 600 the yield is 6.
  const at = (i: number) => 12 - 0.01 * i;
  const y = fed(128, 600, (i) => at(i) + (i % 2 === 0 ? 1 : -1));
  // A moving average over about 128 answers lags about 64 answers behind: 6.64 instead of 6.
  assert.ok(Math.abs(y.perRequest() - at(600)) < 0.15, `now: ${y.perRequest()} vs ${at(600)}`);
  assert.ok(Math.abs(y.perRequest(50) - at(650)) < 0.2, `50 answers ahead: ${y.perRequest(50)} vs ${at(650)}`);
  // The spread around the line is the noise (variance 1), not the trend.
  assert.ok(Math.abs(y.answerVariance() - 1) < 0.15, `answer variance ${y.answerVariance()}`);
});

test('a saturating teacher: the estimate follows the recent yield, not the session average', () => {
  let sum = 0;
  const at = (i: number) => 20 / (1 + i / 17);
  for (let i = 0; i < 600; i++) sum += at(i);
  const y = fed(64, 600, at);
  const recent = at(599);
  assert.ok(sum / 600 > 3 * recent, 'the test teacher does saturate');
  assert.ok(Math.abs(y.perRequest() - recent) < 0.1 * recent, `estimate ${y.perRequest()} should be near the recent ${recent}`);
});

test('a rising yield is not followed, and a forecast never reaches past the answers behind it', () => {
  const rising = fed(64, 200, (i) => 2 + 0.02 * i);
  assert.ok(rising.perRequest(30) <= rising.perRequest(0) + 1e-9);
  // Ten answers falling by one each: the line is extrapolated ten answers at most.
  const short = fed(64, 10, (i) => 20 - i);
  assert.equal(short.perRequest(1000, 0), short.perRequest(10, 0));
});

test('the forecast is less certain with few answers and far ahead', () => {
  const few = fed(128, 10, (i) => 5 + (i % 2));
  const many = fed(128, 500, (i) => 5 + (i % 2));
  assert.ok(few.forecastVariance() > 3 * many.forecastVariance(), `${few.forecastVariance()} vs ${many.forecastVariance()}`);
  assert.ok(many.forecastVariance(60) > many.forecastVariance(0));
  // Two answers on a line claim no knowledge of the spread: the prior's (none to all of 20) still counts.
  assert.ok(fed(128, 2, (i) => 10 - i).answerVariance() > 50);
});

test('empty answers lower the estimate to the floor, never to zero', () => {
  const y = fed(4, 50, () => 0);
  assert.equal(y.perRequest(0, 0.05), 0.05);
});

test('bad arguments are named', () => {
  assert.throws(() => new YieldEstimator(0, 20), /window must be >= 1/);
  assert.throws(() => new YieldEstimator(8, 0), /prior must be > 0/);
});

test('requests to fill: the remainder in one round with a margin for the spread, capped at the concurrency', () => {
  // A steady 0.5 kept per request (0 or 1, variance 0.25): 10 more need 20 requests on average, a few more with a margin.
  const y = fed(256, 2000, (i) => i % 2);
  const n = requestsToFill({ remaining: 10, pendingAnswers: 0, concurrency: 200, yields: y });
  assert.ok(n > 20 && n < 40, `${n} requests for 10 at 0.5`);
  assert.ok(requestsToFill({ remaining: 10, pendingAnswers: 0, concurrency: 200, yields: y, z: 0 }) <= 21);
  assert.ok(requestsToFill({ remaining: 10, pendingAnswers: 0, concurrency: 200, yields: y, z: 3 }) > n);
  assert.equal(requestsToFill({ remaining: 1000, pendingAnswers: 0, concurrency: 32, yields: y }), 32);
  // Answers waiting for the writer count at the same yield.
  assert.equal(requestsToFill({ remaining: 10, pendingAnswers: 60, concurrency: 200, yields: y }), 0);
  assert.equal(requestsToFill({ remaining: 0, pendingAnswers: 0, concurrency: 32, yields: y }), 0);
  // Before any answer: 100 samples at up to 20 a request is a handful of requests with a margin, not the whole round.
  const fresh = requestsToFill({ remaining: 100, pendingAnswers: 0, concurrency: 2000, yields: new YieldEstimator(4000, 20) });
  assert.ok(fresh >= 6 && fresh <= 20, `${fresh} requests for 100 samples before any answer`);
});

test('send decision: nothing on its way and samples still wanted sends; a reached target never does', () => {
  // Before any answer, 20 samples at up to 20 a request: a few requests, not the whole concurrency.
  const fresh = new YieldEstimator(128, 20);
  const sentAt: number[] = [];
  while (sentAt.length < 64 && shouldSend({ remaining: 20, pendingAnswers: 0, inFlightSentAt: sentAt, now: 0, latencyMs: 600, yields: fresh })) sentAt.push(0);
  assert.ok(sentAt.length >= 2 && sentAt.length <= 8, `${sentAt.length} requests for 20 samples`);
  const y = fed(64, 200, () => 2);
  assert.equal(shouldSend({ remaining: 5, pendingAnswers: 0, inFlightSentAt: [], now: 0, latencyMs: 600, yields: y }), true);
  assert.equal(shouldSend({ remaining: 0, pendingAnswers: 0, inFlightSentAt: [], now: 0, latencyMs: 600, yields: y }), false);
});

test('send decision: no top-up when the answers due now will likely fill the target, a wide margin when they just left', () => {
  // 2 kept per request with a spread (1 or 3); 20 requests on their way, 34 more samples wanted: 40 expected.
  const y = fed(64, 300, (i) => (i % 2 === 0 ? 1 : 3));
  const due = Array.from({ length: 20 }, () => 0);
  const justSent = Array.from({ length: 20 }, () => 590);
  const at = (sentAt: number[], remaining: number) => shouldSend({ remaining, pendingAnswers: 0, inFlightSentAt: sentAt, now: 600, latencyMs: 600, yields: y });
  // Due now: a request sent now would hold the run a whole round trip, for a shortfall that is unlikely.
  assert.equal(at(due, 34), false);
  // Just sent: more requests cost no time, so the round is sized to fill with a wide margin.
  assert.equal(at(justSent, 34), true);
  // Due now but clearly short: waiting for them would only delay the request that is needed.
  assert.equal(at(due, 60), true);
});

test('normal quantile: the usual points, clamped to ±2.5', () => {
  assert.ok(Math.abs(normalQuantile(0.5)) < 1e-6);
  assert.ok(Math.abs(normalQuantile(0.975) - 1.96) < 1e-3);
  assert.ok(Math.abs(normalQuantile(0.1) + 1.2816) < 1e-3);
  assert.equal(normalQuantile(1), 2.5);
  assert.equal(normalQuantile(0), -2.5);
});
