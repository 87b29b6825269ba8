import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { forgetBackendSelection, selectBackend, tensorflowGpuChecks, webgpuAutoChecks } from '../../src/model/backend.js';
import { ModelError } from '../../src/errors.js';

/**
 * libtensorflow 2.9 (tfjs-node-gpu) loads on a machine without CUDA 11.2 / cuDNN 8 and then computes on the CPU.
 * The package is not installed here, so its start is staged with the plain-JS backend, and its answer to
 * isUsingGpuDevice is faked both ways.
 */
async function withStagedTensorflowGpu<T>(usingGpu: boolean, f: (lines: string[]) => Promise<T>): Promise<T> {
  const saved = { ...tensorflowGpuChecks };
  const savedWebGpu = { ...webgpuAutoChecks };
  const lines: string[] = [];
  try {
    forgetBackendSelection();
    tensorflowGpuChecks.start = async () => {
      await tf.setBackend('cpu');
    };
    tensorflowGpuChecks.usingGpuDevice = () => usingGpu;
    // No GPU device node: webgpu is passed over silently, so the lines are tensorflow-gpu's alone.
    webgpuAutoChecks.gpuDevicePresent = () => false;
    return await f(lines);
  } finally {
    Object.assign(tensorflowGpuChecks, saved);
    Object.assign(webgpuAutoChecks, savedWebGpu);
    forgetBackendSelection();
  }
}

test('auto takes tensorflow-gpu only when libtensorflow reports a GPU device', async () => {
  await withStagedTensorflowGpu(true, async (lines) => {
    const chosen = await selectBackend(undefined, { log: (l) => lines.push(l) });
    assert.equal(chosen.name, 'tensorflow-gpu');
    assert.match(chosen.device, /^GPU/);
    assert.deepEqual(lines, []);
  });
});

test('auto passes over a tensorflow-gpu that computes on the CPU, in one line, and goes on', async () => {
  await withStagedTensorflowGpu(false, async (lines) => {
    const chosen = await selectBackend(undefined, { log: (l) => lines.push(l) });
    assert.notEqual(chosen.name, 'tensorflow-gpu');
    assert.ok(['native', 'wasm'].includes(chosen.name), `auto chose ${chosen.name}`);
    assert.equal(tf.getBackend(), chosen.name);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /^backend: not using tensorflow-gpu \(libtensorflow loaded but reports no GPU device: CUDA 11\.2 \/ cuDNN 8 missing\); trying webgpu$/);
  });
});

test('--backend tensorflow-gpu on a libtensorflow without a GPU device is an error, not a mislabelled CPU run', async () => {
  await withStagedTensorflowGpu(false, async () => {
    await assert.rejects(selectBackend('tensorflow-gpu'), (e: unknown) => e instanceof ModelError && /reports no GPU device/.test(e.message));
  });
});
