import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../../errors.js';
import { selectBackend } from '../../model/backend.js';
import { loadModel } from '../../model/load.js';
import { batchNll, explainBackendError, microBatchGradients } from './gradients.js';
import { LoraRuntime } from '../adapters/lora.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.js';

/** One data-parallel training worker: its own TensorFlow.js instance and model copy, driven by WorkerGradEngine. */
const port = parentPort;
if (!port) throw new Error('worker-main.ts runs only as a worker thread');
const init = workerData as WorkerInit;

const send = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
const fail = (id: number | null, e: unknown) => {
  send({ kind: 'error', id, error: serializeError(explainBackendError(e)) });
};

try {
  const backend = await selectBackend(init.backend);
  const model = await loadModel(init.modelDir, { training: true, ...(init.baseWeights ? { baseWeights: init.baseWeights } : {}), ...(init.gradientCheckpointing ? { gradientCheckpointing: true } : {}) });
  const r = init.spec.r;
  const lora = new LoraRuntime({
    spec: init.spec,
    entries: init.entries.map((e) => ({ ...e, a: new Float32Array(e.inFeatures * r), b: new Float32Array(r * e.outFeatures) })),
  });
  // Reads are asynchronous, so messages are handled one after another on a chain: parameters sent after a job
  // never overtake it.
  let chain = Promise.resolve();
  const handle = async (m: ToWorker) => {
    try {
      if (m.kind === 'params') lora.assign(m.params);
      else if (m.kind === 'grads') {
        const g = await microBatchGradients(model, lora, m.batch, { maxPassTokens: init.maxPassTokens });
        send({ kind: 'grads', id: m.id, grads: g.grads, nllSum: g.nllSum }, g.grads.map((x) => x.buffer as ArrayBuffer));
      } else if (m.kind === 'eval') {
        send({ kind: 'eval', id: m.id, nllSum: await batchNll(model, lora, m.batch) });
      }
    } catch (e) {
      fail('id' in m ? m.id : null, e);
    }
  };
  port.on('message', (m: ToWorker) => {
    chain = chain.then(() => handle(m));
  });
  send({ kind: 'ready', backend: backend.name, device: backend.device });
} catch (e) {
  fail(null, e);
}
