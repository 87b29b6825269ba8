import { Worker } from 'node:worker_threads';

/**
 * Starts a worker thread on a module that sits beside `base` (pass `import.meta.url`), named without extension.
 * From TypeScript source (tests and benches under tsx) the loader hooks are not inherited by worker threads, so the
 * worker registers them itself before importing the .ts module; from dist/ it loads the .js file directly.
 */
export function startModuleWorker(base: string, name: string, workerData: unknown): Worker {
  if (base.endsWith('.ts')) {
    const target = new URL(`./${name}.ts`, base).href;
    const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(target)}); });`;
    return new Worker(boot, { eval: true, workerData });
  }
  return new Worker(new URL(`./${name}.js`, base), { workerData });
}
