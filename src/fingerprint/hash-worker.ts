// A helper thread of the hash pool (hash-pool.ts): hashes or stats the files of each batch it
// is sent, writing the results into the batch's shared memory (hash-slots.ts). Synchronous
// system calls in a loop: no promise or callback per file.
import { parentPort } from 'node:worker_threads';
import { BatchView, workBatch, type FileBatch } from './hash-slots.js';

parentPort?.on('message', (batch: FileBatch) => workBatch(new BatchView(batch)));
