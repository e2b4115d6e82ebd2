/**
 * Worker-thread entry of {@link ModelFreePool}: builds the model-free prediction maps of one image
 * set per message, off the main thread. The maps are TypeScript (about 1 s for a 2048² image), and
 * on the main thread they were the one part of `segmentFolder` that could not use a second core.
 * A Worker cannot load .ts files, so from the TypeScript sources (vitest) the built copy in
 * packages/core/dist is used (`npm run build`).
 */
import { parentPort } from 'node:worker_threads';
import { modelFreeMaps, type ModelFreeChannels, type ModelFreeOptions } from './model-free.js';

export interface ModelFreeJob {
  id: number;
  img: ModelFreeChannels;
  options: ModelFreeOptions;
}

export type ModelFreeReply = { id: number; nucleiPred: Uint8Array; cellPred: Uint8Array } | { id: number; error: string };

parentPort?.on('message', (job: ModelFreeJob) => {
  let reply: ModelFreeReply;
  try {
    reply = { id: job.id, ...modelFreeMaps(job.img, job.options) };
  } catch (err) {
    parentPort!.postMessage({ id: job.id, error: err instanceof Error ? err.message : String(err) } satisfies ModelFreeReply);
    return;
  }
  // The maps are fresh arrays of their own: hand their memory over instead of copying it.
  parentPort!.postMessage(reply, [reply.nucleiPred.buffer as ArrayBuffer, reply.cellPred.buffer as ArrayBuffer]);
});
