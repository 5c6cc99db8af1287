import { logger } from './lib/logger.ts';
import { step } from './lib/middleware.ts';
import { addCounts, deepDrift, emptyCounts, type DeepCandidate } from './lib/reconcile.ts';
import pMap from 'p-map';
import pThrottle from 'p-throttle';
import { countCalls, createReconcileDeps, readCaDetail, startRepair, type ReconcileDeps } from './lib/reconcile-io.ts';
import { getJson, putJson } from './lib/s3.ts';
import { ReconcileDeepInputSchema, ReconcileDeepOutputSchema, type ReconcileDeepInput, type ReconcileDeepOutput } from './lib/schemas.ts';

/**
 * The per-CA check of one chunk: DescribeCACertificate and ListTagsForResource, each held under
 * DEEP_CHECK_TPS so the account's IoT quota keeps room for registrations.
 */
export const reconcileDeep = async (deps: ReconcileDeps, event: ReconcileDeepInput): Promise<ReconcileDeepOutput> => {
  const { bucket, chunkKey } = event;
  const calls = countCalls(deps.iot);
  const candidates = await getJson<DeepCandidate[]>(deps.s3, bucket, chunkKey);
  // One slot per CA: DescribeCACertificate and ListTagsForResource each run at DEEP_CHECK_TPS.
  const readDetail = pThrottle({ limit: 1, interval: 1000 / deps.config.deepCheckTps })((candidate: DeepCandidate) =>
    readCaDetail(deps.iot, candidate.certificateId, candidate.certificateArn),
  );
  let counts = emptyCounts();
  const repairs: Array<{ key: string; drift: string[]; outcome: string }> = [];
  await pMap(candidates, async (candidate) => {
    try {
      const detail = await readDetail(candidate);
      const drift = detail ? deepDrift(candidate, detail) : ['missing in IoT'];
      counts = addCounts(counts, { deepChecked: 1 });
      if (drift.length === 0) {
        counts = addCounts(counts, { inSync: 1 });
        return;
      }
      const outcome = await startRepair(deps, bucket, candidate.key, candidate.etag, drift.join(';'));
      counts = addCounts(counts, outcome === 'already' ? { alreadyStarted: 1 } : { repaired: 1 });
      repairs.push({ key: candidate.key, drift, outcome });
    } catch (error) {
      counts = addCounts(counts, { errors: 1 });
      logger.error('deep check failed', { key: candidate.key, errorName: (error as Error).name });
    }
  }, { concurrency: 4 });
  await putJson(deps.s3, bucket, chunkKey.replace(/\.json$/, '.result.json'), repairs);
  return { counts, iotCalls: Object.fromEntries(calls) };
};

const deps = createReconcileDeps();
export const handler = step({ input: ReconcileDeepInputSchema, output: ReconcileDeepOutputSchema }, (event) => reconcileDeep(deps, event));
