/**
 * Worker-thread entry of {@link fitMlps}: one cell-MLP fit per worker (its job in `workerData`),
 * posted back as { epoch } after each epoch, then { fit } or { error }. A Worker cannot load .ts files, so from the TypeScript
 * sources (vitest) the built copy in packages/core/dist is used (`npm run build`).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { fitMlp, type MlpFitJob, type MlpWorkerReply } from './mlp-fit.js';

if (parentPort) {
  let reply: MlpWorkerReply;
  try {
    const port = parentPort;
    reply = { fit: fitMlp(workerData as MlpFitJob, (epoch) => port.postMessage({ epoch } satisfies MlpWorkerReply)) };
  } catch (err) {
    reply = { error: err instanceof Error ? err.message : String(err) };
  }
  parentPort.postMessage(reply);
}
