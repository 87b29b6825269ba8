import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requestsToFill, YieldEstimator } from '../../src/generate/yield-estimator.js';

test('before any answer the estimate is the prior; the first answer replaces it', () => {
  const y = new YieldEstimator(64, 20);
  assert.equal(y.perRequest(), 20);
  y.observe(4);
  assert.equal(y.perRequest(), 4);
});

test('a saturating teacher: the estimate follows the recent yield, not the session average', () => {
  const y = new YieldEstimator(64, 20);
  let sum = 0;
  let n = 0;
  // Yield decays as 20 / (1 + n/17): from 20 to under 1 per request.
  for (; n < 600; n++) {
    const k = 20 / (1 + n / 17);
    sum += k;
    y.observe(k);
  }
  const recent = 20 / (1 + 599 / 17);
  const average = sum / n;
  assert.ok(average > 3 * recent, 'the test teacher does saturate');
  assert.ok(y.perRequest() < 1.5 * recent, `estimate ${y.perRequest()} should be near the recent ${recent}, not the average ${average}`);
});

test('empty answers lower the estimate to the floor, never to zero', () => {
  const y = new YieldEstimator(4, 20);
  for (let i = 0; i < 50; i++) y.observe(0);
  assert.equal(y.perRequest(0.05), 0.05);
});

test('bad arguments are named', () => {
  assert.throws(() => new YieldEstimator(0, 20), /window must be >= 1/);
  assert.throws(() => new YieldEstimator(8, 0), /prior must be > 0/);
});

test('requests to fill: enough for the remainder in one round trip, capped at the concurrency', () => {
  // 10 left at 0.5 kept per request: 20 requests (+25% headroom = 25), under a concurrency of 32.
  assert.equal(requestsToFill({ remaining: 10, pendingAnswers: 0, perRequest: 0.5, concurrency: 32 }), 25);
  assert.equal(requestsToFill({ remaining: 1000, pendingAnswers: 0, perRequest: 0.5, concurrency: 32 }), 32);
  // Answers waiting for the writer count at the same yield.
  assert.equal(requestsToFill({ remaining: 10, pendingAnswers: 20, perRequest: 0.5, concurrency: 32 }), 0);
  assert.equal(requestsToFill({ remaining: 0, pendingAnswers: 0, perRequest: 3, concurrency: 32 }), 0);
  assert.equal(requestsToFill({ remaining: 10, pendingAnswers: 0, perRequest: 0.5, concurrency: 32, headroom: 1 }), 20);
});
