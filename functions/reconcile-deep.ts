import { logger } from './lambda/logger.ts';
import { step } from './lambda/middleware.ts';
import pMap from 'p-map';
import { addCounts, emptyCounts, type DeepCandidate } from './core/reconcile.ts';
import { countCalls, createReconcileDeps, deepChecker, type DeepRepair, type ReconcileDeps } from './aws/reconcile.ts';
import { getJson, putJson } from './aws/s3.ts';
import {
  ReconcileDeepInputSchema,
  ReconcileDeepOutputSchema,
  type ReconcileDeepInput,
  type ReconcileDeepOutput,
} from './core/schemas.ts';

/**
 * The per-CA check of one chunk: DescribeCACertificate and ListTagsForResource, each held under
 * DEEP_CHECK_TPS so the account's IoT quota keeps room for registrations.
 */
export const reconcileDeep = async (deps: ReconcileDeps, event: ReconcileDeepInput): Promise<ReconcileDeepOutput> => {
  const { bucket, chunkKey } = event;
  const calls = countCalls(deps.iot);
  const candidates = await getJson<DeepCandidate[]>(deps.s3, bucket, chunkKey);
  const check = deepChecker(deps, bucket);
  let counts = emptyCounts();
  const repairs: DeepRepair[] = [];
  await pMap(
    candidates,
    async (candidate) => {
      try {
        const repair = await check(candidate, (more) => (counts = addCounts(counts, more)));
        if (repair) repairs.push(repair);
      } catch (error) {
        counts = addCounts(counts, { errors: 1 });
        logger.error('deep check failed', { key: candidate.key, errorName: (error as Error).name });
      }
    },
    { concurrency: 4 },
  );
  await putJson(deps.s3, bucket, chunkKey.replace(/\.json$/, '.result.json'), repairs);
  return { counts, iotCalls: Object.fromEntries(calls) };
};

const deps = createReconcileDeps();
export const handler = step({ input: ReconcileDeepInputSchema, output: ReconcileDeepOutputSchema }, (event) =>
  reconcileDeep(deps, event),
);
