import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lowYieldMessage, YieldMonitor } from '../../src/generate/yield-monitor.js';

test('the yield monitor warns once when the kept share over the last answers falls under the threshold, naming the top reasons', () => {
  const m = new YieldMonitor({ window: 10, minShare: 0.05, topReasons: 2 });
  // Healthy: 10 of 20 kept per answer.
  for (let i = 0; i < 20; i++) assert.equal(m.record(20, 10, { 'duplicate:rouge': 10 }), null);
  const warnings = [];
  for (let i = 0; i < 30; i++) {
    const w = m.record(20, 0, { 'duplicate:rouge': 15, 'rule:blacklist': 4, 'parse:no output': 1 });
    if (w) warnings.push({ at: i, w });
  }
  assert.equal(warnings.length, 1, 'one warning per collapse, not one per answer');
  const { at, w } = warnings[0]!;
  // 10 healthy answers in the window keep 100 of 200 until enough bad ones push the share under 5%.
  assert.ok(at >= 9 && at <= 10, `warned at answer ${at}`);
  assert.ok(w.keptShare < 0.05);
  assert.equal(w.answers, 10);
  assert.equal(w.requested, 200);
  assert.deepEqual(w.topReasons.map((r) => r.reason), ['duplicate:rouge', 'rule:blacklist']);
  assert.match(lowYieldMessage(w), /^low yield: \d+ of 200 requested items kept .* over the last 10 answers; top rejections: duplicate:rouge \d+, rule:blacklist \d+/);

  // It recovers, then collapses again: a second warning.
  for (let i = 0; i < 10; i++) assert.equal(m.record(20, 10, {}), null);
  let again = 0;
  for (let i = 0; i < 20; i++) if (m.record(20, 0, { 'rule:length': 20 })) again++;
  assert.equal(again, 1);
});

test('the yield monitor says nothing before it has a full window of answers', () => {
  const m = new YieldMonitor({ window: 100 });
  for (let i = 0; i < 99; i++) assert.equal(m.record(20, 0, { 'duplicate:exact': 20 }), null);
  assert.notEqual(m.record(20, 0, { 'duplicate:exact': 20 }), null);
});
