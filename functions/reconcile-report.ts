import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { S3Client } from '@aws-sdk/client-s3';
import { readExpiryWarningDays, readResultsPrefix } from './lambda/config.ts';
import { CaExpiringDetailSchema, type PipelineEvent } from './core/events.ts';
import type { Finding } from './core/reconcile.ts';
import { createEventsClient } from './aws/events.ts';
import { publishOncePerCause, transientOnly } from './aws/notices.ts';
import { deliverPendingNotices, type PendingDelivery } from './aws/pending-notices.ts';
import { logger } from './lambda/logger.ts';
import { step } from './lambda/middleware.ts';
import { addCounts } from './core/reconcile.ts';
import { createS3Client, findJson, putJson } from './aws/s3.ts';
import { reconcileReportKeyFor } from './core/source.ts';
import {
  ReconcileReportInputSchema,
  ReconcileReportSchema,
  type ReconcileReport,
  type ReconcileReportInput,
} from './core/schemas.ts';

export type { ReconcileReport } from './core/schemas.ts';

const mergeCalls = (all: Array<Record<string, number>>): Record<string, number> => {
  const merged: Record<string, number> = {};
  for (const calls of all)
    for (const [operation, count] of Object.entries(calls)) merged[operation] = (merged[operation] ?? 0) + count;
  return merged;
};

export interface ReconcileReportDeps {
  s3: S3Client;
  resultsPrefix: string;
  metrics: Metrics;
  /** Where `CA Expiring` goes; without it none is published. */
  events?: EventBridgeClient;
  /** The deployment's expiryWarningDays (the threshold the plan used), part of each warning's cause. */
  expiryWarningDays?: number;
  now?: () => Date;
}

type Expiring = Extract<Finding, { kind: 'expiring' }>;

/**
 * `CA Expiring` for each CA the plan found ending within the threshold, once per CA per expiry:
 * the cause is the certificateId, its notAfter and the threshold, so hourly runs announce it once,
 * a CA replaced by a renewed one (new notAfter) or a changed threshold announces again.
 */
export const expiringEvents = (
  findings: readonly Finding[],
  meta: { bucket: string; runId: string; thresholdDays: number; executionId?: string | undefined },
): PipelineEvent[] =>
  findings
    .filter((finding): finding is Expiring => finding.kind === 'expiring')
    .map((finding) => ({
      detailType: 'CA Expiring' as const,
      detail: CaExpiringDetailSchema.parse({
        cause: `expiring:${finding.certificateId}:${finding.notAfter}:${meta.thresholdDays}d`,
        ...(meta.executionId ? { executionId: meta.executionId } : {}),
        certificateId: finding.certificateId,
        source: { bucket: meta.bucket, key: finding.key },
        notAfter: finding.notAfter,
        daysLeft: finding.daysLeft,
        thresholdDays: meta.thresholdDays,
        runId: meta.runId,
      }),
    }));

const announceExpiring = async (deps: ReconcileReportDeps, event: ReconcileReportInput): Promise<number> => {
  const { plan } = event;
  if (!deps.events || plan.counts.expiring === 0) return 0;
  const findings = (await findJson<Finding[]>(deps.s3, plan.bucket, plan.findingsKey)) ?? [];
  const events = expiringEvents(findings, {
    bucket: plan.bucket,
    runId: plan.runId,
    thresholdDays: deps.expiryWarningDays ?? readExpiryWarningDays(),
    executionId: event.executionId,
  });
  try {
    const published = await publishOncePerCause(
      { s3: deps.s3, events: deps.events, bucket: plan.bucket, resultsPrefix: deps.resultsPrefix },
      events,
    );
    return published.length;
  } catch (error) {
    transientOnly(error, 'CA Expiring');
    return 0;
  }
};

/**
 * The announcements register-ca could not publish (docs/adr/0030), delivered before the report is
 * written so that it counts them; a transient failure waits until the report is written.
 */
const deliverPending = async (deps: ReconcileReportDeps, bucket: string): Promise<PendingDelivery> =>
  deps.events
    ? deliverPendingNotices({ s3: deps.s3, events: deps.events, bucket, resultsPrefix: deps.resultsPrefix })
    : { delivered: 0, malformed: 0 };

/**
 * Delivers the pending announcements, merges the passes into one report under results/reconcile/,
 * one summary log line and metrics, and announces the CAs that are expiring (once per expiry).
 */
export const reconcileReport = async (
  deps: ReconcileReportDeps,
  event: ReconcileReportInput,
): Promise<ReconcileReport> => {
  const { plan } = event;
  const deep = event.deep ?? [];
  const counts = deep.reduce((sum, part) => addCounts(sum, part.counts), plan.counts);
  const iotCalls = mergeCalls([plan.iotCalls, ...deep.map((part) => part.iotCalls)]);
  const pending = await deliverPending(deps, plan.bucket);
  const report: ReconcileReport = {
    schema: 'iot-ca-pipeline/reconcile@1',
    runId: plan.runId,
    deep: plan.deep,
    counts,
    iotCalls,
    iotCallsTotal: Object.values(iotCalls).reduce((sum, count) => sum + count, 0),
    findingsKey: plan.findingsKey,
    announced: pending.delivered,
    ...(event.startTime ? { startedAt: event.startTime } : {}),
    finishedAt: (deps.now?.() ?? new Date()).toISOString(),
  };
  await putJson(deps.s3, plan.bucket, reconcileReportKeyFor(plan.runId, deps.resultsPrefix), report);
  const summary = Object.entries(counts)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  logger.info(
    `reconcile ${plan.deep ? 'deep' : 'shallow'}: ${summary} iotCalls=${report.iotCallsTotal} announced=${pending.delivered}`,
    { counts, iotCalls, announced: pending.delivered, pendingMalformed: pending.malformed },
  );
  deps.metrics.addMetric('CasExpiring', MetricUnit.Count, counts.expiring);
  deps.metrics.addMetric('CasRepaired', MetricUnit.Count, counts.repaired + counts.registered);
  deps.metrics.addMetric('CasOrphaned', MetricUnit.Count, counts.orphaned);
  deps.metrics.addMetric('ReconcileErrors', MetricUnit.Count, counts.errors);
  deps.metrics.publishStoredMetrics();
  const announced = await announceExpiring(deps, event);
  if (announced > 0) logger.info('announced expiring CAs', { announced });
  // The report is written: a transient failure of the pending announcements is retried now.
  if (pending.failure !== undefined) transientOnly(pending.failure, 'pending announcements');
  return report;
};

const deps: ReconcileReportDeps = {
  s3: createS3Client(),
  resultsPrefix: readResultsPrefix(),
  metrics: new Metrics({ namespace: 'IotCaPipeline', serviceName: 'iot-ca-pipeline' }),
  events: createEventsClient(),
  expiryWarningDays: readExpiryWarningDays(),
};
export const handler = step({ input: ReconcileReportInputSchema, output: ReconcileReportSchema }, (event) =>
  reconcileReport(deps, event),
);
