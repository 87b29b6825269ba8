import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { EndpointGate } from '../../src/llm/endpoint-gate.js';

test('waiting for the probe 25 times on one signal leaves no abort listener behind (no MaxListenersExceededWarning)', async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  try {
    const gate = new EndpointGate({ pauseAfterFailures: 1, pauseMs: 1, maxPauses: 1000 });
    const signal = new AbortController().signal;
    for (let i = 0; i < 25; i++) {
      gate.failure('down');
      await gate.wait(signal); // the probe
      const waiter = gate.wait(signal); // waits for the probe's outcome
      await new Promise((r) => setImmediate(r));
      assert.equal(getEventListeners(signal, 'abort').length, 1, 'one listener while waiting');
      gate.success();
      await waiter;
      assert.equal(getEventListeners(signal, 'abort').length, 0, `cycle ${i}: the listener is removed once the probe settles`);
    }
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(warnings.map((w) => w.name), []);
  } finally {
    process.off('warning', onWarning);
  }
});

test('an abort while waiting for the probe rejects with the reason and removes the listener', async () => {
  const gate = new EndpointGate({ pauseAfterFailures: 1, pauseMs: 1, maxPauses: 10 });
  gate.failure('down');
  await gate.wait();
  const c = new AbortController();
  const waiting = gate.wait(c.signal);
  await new Promise((r) => setImmediate(r));
  c.abort(new Error('stop'));
  await assert.rejects(waiting, /stop/);
  assert.equal(getEventListeners(c.signal, 'abort').length, 0);
});
