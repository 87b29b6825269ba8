import { ModelError } from '../errors.js';

/**
 * Backend failures surface as opaque messages from deep inside tfjs (wasm aborts, WebGPU validation errors); this
 * turns the ones we recognise into a ModelError that says what happened and what to change, and passes anything
 * else through untouched.
 */
export function explainBackendError(e: unknown): unknown {
  if (e instanceof ModelError) return e;
  // A read on a device that was lost rejects with a bare AbortError, no message at all (Dawn in Node).
  if (e instanceof Error && e.name === 'AbortError' && e.message.trim() === '') {
    return new ModelError('the WebGPU device was lost (a read was aborted without a reason): driver reset, GPU timeout or another process took it', 'rerun the command (score and sample resume; train resumes from its last checkpoint); if it recurs, lower --micro-batch-size or --cutoff-len, or use --backend wasm', e);
  }
  const msg = e instanceof Error ? e.message : String(e);
  const first = msg.split('\n')[0]!;
  const smaller = 'lower --cutoff-len, --batch-size or --micro-batch-size, or use a smaller model';
  if (/Aborted\(|memory access out of bounds|XNN status/.test(msg)) {
    return new ModelError(
      `the wasm backend ran out of memory (its heap stops at 4 GB per worker): ${first}`,
      `${smaller}, or a backend without that cap (--backend tensorflow / tensorflow-gpu / webgpu)`,
      e,
    );
  }
  if (/OffscreenCanvas is not defined/.test(msg)) {
    return new ModelError(`a synchronous read of a WebGPU tensor (tfjs-backend-webgpu cannot do that in Node): ${first}`, 'this is a bug in alpaca-forge; meanwhile use --backend wasm', e);
  }
  if (/device (was )?lost|GPUDeviceLostInfo|DEVICE_LOST|VK_ERROR_DEVICE_LOST/i.test(msg)) {
    return new ModelError(`the WebGPU device was lost (driver reset, GPU timeout or another process took it): ${first}`, `rerun the command (score and sample resume); if it recurs, ${smaller}, or use --backend wasm`, e);
  }
  if (/max(Storage)?Buffer(Binding)?Size|buffer size .*exceeds|exceeds the max buffer size|too large for/i.test(msg)) {
    return new ModelError(`a tensor is larger than the GPU allows in one buffer: ${first}`, `${smaller}; weights over the limit are split at load, activations are not`, e);
  }
  if (/out of memory|OutOfMemory|GPUOutOfMemoryError|allocation failed|Failed to allocate/i.test(msg)) {
    return new ModelError(`the GPU ran out of memory: ${first}`, `${smaller}, or close other programs using the GPU`, e);
  }
  return e;
}
