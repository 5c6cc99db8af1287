import { logger } from './lambda/logger.ts';
import { step } from './lambda/middleware.ts';
import { addCounts, emptyCounts, planShallow, type DeepCandidate } from './core/reconcile.ts';
import {
  actOn,
  countCalls,
  createReconcileDeps,
  listCaObjects,
  listCas,
  readResults,
  type FindingOutcome,
  type ReconcileDeps,
} from './aws/reconcile.ts';
import { putJson } from './aws/s3.ts';
import { reconcilePrefixFor } from './core/source.ts';
import {
  ReconcilePlanInputSchema,
  ReconcilePlanOutputSchema,
  type ReconcilePlanInput,
  type ReconcilePlanOutput,
} from './core/schemas.ts';

export type { ReconcilePlanOutput } from './core/schemas.ts';

const chunk = <T>(items: T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/**
 * The shallow pass of reconciliation: bulk listings only, repairs started, orphans handled,
 * and (deep runs) the in-sync CAs split into chunks for the per-CA check.
 */
export const reconcilePlan = async (deps: ReconcileDeps, event: ReconcilePlanInput): Promise<ReconcilePlanOutput> => {
  const { bucket, runId } = event;
  const calls = countCalls(deps.iot);
  const now = deps.now?.() ?? new Date();
  const [objects, { results, resultWritten, retiredWritten, ...read }, cas] = await Promise.all([
    listCaObjects(deps.s3, bucket, deps.incomingPrefix),
    readResults(deps.s3, bucket, deps.resultsPrefix),
    listCas(deps.iot),
  ]);
  // What the snapshot saved: a no-drift run reads no receipt; a rebuild reads them all.
  logger.info('reconcile results read', read);
  const templates = new Set(
    [...results.values()].flatMap((result) => (result.outcome === 'ACTIVE' ? [result.templateName] : [])),
  );
  const templateMembers = new Map<string, Set<string>>();
  for (const template of templates) templateMembers.set(template, new Set((await listCas(deps.iot, template)).keys()));

  const plan = planShallow({
    objects,
    results,
    cas,
    templateMembers,
    resultWritten,
    retiredWritten,
    now,
    expiryWarningDays: deps.config.expiryWarningDays,
    graceMinutes: deps.config.graceMinutes,
  });
  let counts = addCounts(emptyCounts(), { objects: objects.length, inSync: event.deep ? 0 : plan.inSync.length });
  const outcomes: FindingOutcome[] = [];
  for (const finding of plan.findings) {
    try {
      outcomes.push(await actOn(deps, bucket, finding, (more) => (counts = addCounts(counts, more)), runId));
    } catch (error) {
      counts = addCounts(counts, { errors: 1 });
      outcomes.push({ ...finding, outcome: `error: ${(error as Error).name}` });
      logger.error('reconcile action failed', { key: finding.key, errorName: (error as Error).name });
    }
  }
  const base = `${reconcilePrefixFor(deps.resultsPrefix)}${runId}`;
  const findingsKey = `${base}/findings.json`;
  await putJson(deps.s3, bucket, findingsKey, outcomes);
  const chunks: string[] = [];
  if (event.deep) {
    for (const [index, candidates] of chunk<DeepCandidate>(plan.inSync, deps.config.deepChunkSize).entries()) {
      const key = `${base}/deep-${String(index).padStart(4, '0')}.json`;
      await putJson(deps.s3, bucket, key, candidates);
      chunks.push(key);
    }
  }
  return { runId, bucket, deep: Boolean(event.deep), counts, iotCalls: Object.fromEntries(calls), chunks, findingsKey };
};

const deps = createReconcileDeps();
export const handler = step({ input: ReconcilePlanInputSchema, output: ReconcilePlanOutputSchema }, (event) =>
  reconcilePlan(deps, event),
);
