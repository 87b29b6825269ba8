import { workerData } from 'node:worker_threads';
import { serveChunks, type SharedOperands } from './threaded-products.js';

serveChunks(workerData as SharedOperands);
