import { UpdateCACertificateCommand } from '@aws-sdk/client-iot';
import { awsCall } from './lib/aws-errors.ts';
import { logger } from './lib/logger.ts';
import { step } from './lib/middleware.ts';
import { addCounts, emptyCounts, planShallow, type DeepCandidate, type Finding } from './lib/reconcile.ts';
import { countCalls, createReconcileDeps, listCaObjects, listCas, readResults, startRepair, type ReconcileDeps } from './lib/reconcile-io.ts';
import { putJson } from './lib/s3.ts';
import { reconcilePrefixFor } from './lib/source.ts';
import { ReconcilePlanInputSchema, ReconcilePlanOutputSchema, type ReconcilePlanInput, type ReconcilePlanOutput } from './lib/schemas.ts';

export type { ReconcilePlanOutput } from './lib/schemas.ts';

const chunk = <T>(items: T[], size: number): T[][] => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/**
 * The shallow pass of reconciliation: bulk listings only, repairs started, orphans handled,
 * and (deep runs) the in-sync CAs split into chunks for the per-CA check.
 */
export const reconcilePlan = async (deps: ReconcileDeps, event: ReconcilePlanInput): Promise<ReconcilePlanOutput> => {
  const { bucket, runId } = event;
  const calls = countCalls(deps.iot);
  const now = deps.now?.() ?? new Date();
  const [objects, results, cas] = await Promise.all([
    listCaObjects(deps.s3, bucket, deps.incomingPrefix),
    readResults(deps.s3, bucket, deps.resultsPrefix),
    listCas(deps.iot),
  ]);
  const templates = new Set([...results.values()].flatMap((result) => (result.outcome === 'ACTIVE' ? [result.templateName] : [])));
  const templateMembers = new Map<string, Set<string>>();
  for (const template of templates) templateMembers.set(template, new Set((await listCas(deps.iot, template)).keys()));

  const plan = planShallow({ objects, results, cas, templateMembers, now, expiryWarningDays: deps.config.expiryWarningDays, graceMinutes: deps.config.graceMinutes });
  let counts = addCounts(emptyCounts(), { objects: objects.length, inSync: event.deep ? 0 : plan.inSync.length });
  const outcomes: Array<Finding & { outcome?: string }> = [];
  for (const finding of plan.findings) {
    try {
      switch (finding.kind) {
        case 'register':
        case 'repair': {
          const started = await startRepair(deps, bucket, finding.key, finding.etag, finding.kind === 'repair' ? finding.drift.join(';') : finding.reason);
          counts = addCounts(counts, started === 'already' ? { alreadyStarted: 1 } : finding.kind === 'register' ? { registered: 1 } : { repaired: 1 });
          outcomes.push({ ...finding, outcome: started });
          break;
        }
        case 'orphan': {
          counts = addCounts(counts, { orphaned: 1 });
          if (deps.config.orphanPolicy === 'deactivate' && finding.status === 'ACTIVE') {
            await awsCall('UpdateCACertificate', () => deps.iot.send(new UpdateCACertificateCommand({ certificateId: finding.certificateId, newStatus: 'INACTIVE' })));
            counts = addCounts(counts, { deactivated: 1 });
            outcomes.push({ ...finding, outcome: 'deactivated' });
          } else outcomes.push({ ...finding, outcome: 'reported' });
          break;
        }
        case 'retry': {
          // Once per window, like every start: overlapping runs start it once, a later window again.
          const started = await startRepair(deps, bucket, finding.key, finding.etag, 'transient-failure');
          counts = addCounts(counts, started === 'already' ? { alreadyStarted: 1 } : { retried: 1 });
          outcomes.push({ ...finding, outcome: started });
          break;
        }
        case 'pending':
          counts = addCounts(counts, { pending: 1 });
          outcomes.push(finding);
          break;
        case 'failed':
          counts = addCounts(counts, { failed: 1 });
          outcomes.push(finding);
          break;
        case 'expiring':
          counts = addCounts(counts, { expiring: 1 });
          outcomes.push(finding);
          break;
      }
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
export const handler = step({ input: ReconcilePlanInputSchema, output: ReconcilePlanOutputSchema }, (event) => reconcilePlan(deps, event));
