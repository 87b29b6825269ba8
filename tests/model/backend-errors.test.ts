import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainBackendError } from '../../src/model/backend-error.js';
import { BACKEND_NAMES, BackendNameSchema, parseBackendFlag } from '../../src/model/backend.js';
import { ModelError, UsageError } from '../../src/errors.js';

test('explainBackendError turns wasm and WebGPU failures into ModelErrors with a hint, and passes others through', () => {
  const cases: Array<[string, RegExp, RegExp]> = [
    ['Aborted(). Build with -sASSERTIONS for more info.', /wasm backend ran out of memory/, /--cutoff-len/],
    ['GPUDevice was lost: VK_ERROR_DEVICE_LOST', /WebGPU device was lost/, /rerun the command/],
    ["Buffer size (2101346304) exceeds the max buffer size limit (1073741824).", /larger than the GPU allows in one buffer/, /split at load/],
    ['GPUOutOfMemoryError: Out of memory', /GPU ran out of memory/, /smaller model/],
    ['ReferenceError: OffscreenCanvas is not defined', /synchronous read of a WebGPU tensor/, /--backend wasm/],
  ];
  for (const [message, what, hint] of cases) {
    const cause = new Error(`${message}\n    at somewhere`);
    const e = explainBackendError(cause);
    assert.ok(e instanceof ModelError, message);
    assert.match(e.message, what);
    assert.doesNotMatch(e.message, /\n/, 'one line');
    assert.match(e.hint ?? '', hint);
    assert.equal(e.cause, cause);
  }
  const other = new TypeError('something else');
  assert.equal(explainBackendError(other), other);
  const already = new ModelError('known', 'hint');
  assert.equal(explainBackendError(already), already);
});

test('--backend values come from one zod enum; auto means auto-selection, anything else is a usage error', () => {
  assert.deepEqual(BACKEND_NAMES, BackendNameSchema.options);
  assert.equal(parseBackendFlag(undefined), undefined);
  assert.equal(parseBackendFlag('auto'), undefined);
  assert.equal(parseBackendFlag('webgpu'), 'webgpu');
  assert.throws(() => parseBackendFlag('cuda'), (e: unknown) => e instanceof UsageError && /--backend: "cuda" is not a backend/.test(e.message) && /auto or one of: tensorflow-gpu, tensorflow, webgpu, native, wasm, cpu/.test(e.hint ?? ''));
});

test('a read on a lost device, rejected with an empty AbortError, is recognised as a lost device', () => {
  for (const cause of [new DOMException('', 'AbortError'), Object.assign(new Error(''), { name: 'AbortError' })]) {
    const e = explainBackendError(cause);
    assert.ok(e instanceof ModelError, `${cause.constructor.name} AbortError`);
    assert.match(e.message, /WebGPU device was lost/);
    assert.match(e.hint ?? '', /rerun the command/);
  }
  // An AbortError with a message is someone's cancellation (Ctrl-C, a timeout), not the device.
  const cancel = new DOMException('The operation was aborted', 'AbortError');
  assert.equal(explainBackendError(cancel), cancel);
});
