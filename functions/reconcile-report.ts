import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { S3Client } from '@aws-sdk/client-s3';
import { readResultsPrefix } from './lambda/config.ts';
import { logger } from './lambda/logger.ts';
import { step } from './lambda/middleware.ts';
import { addCounts } from './core/reconcile.ts';
import { createS3Client, putJson } from './aws/s3.ts';
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

/** Merges the passes into one report under results/reconcile/, one summary log line and metrics. */
export const reconcileReport = async (
  deps: { s3: S3Client; resultsPrefix: string; metrics: Metrics; now?: () => Date },
  event: ReconcileReportInput,
): Promise<ReconcileReport> => {
  const { plan } = event;
  const deep = event.deep ?? [];
  const counts = deep.reduce((sum, part) => addCounts(sum, part.counts), plan.counts);
  const iotCalls = mergeCalls([plan.iotCalls, ...deep.map((part) => part.iotCalls)]);
  const report: ReconcileReport = {
    schema: 'iot-ca-pipeline/reconcile@1',
    runId: plan.runId,
    deep: plan.deep,
    counts,
    iotCalls,
    iotCallsTotal: Object.values(iotCalls).reduce((sum, count) => sum + count, 0),
    findingsKey: plan.findingsKey,
    ...(event.startTime ? { startedAt: event.startTime } : {}),
    finishedAt: (deps.now?.() ?? new Date()).toISOString(),
  };
  await putJson(deps.s3, plan.bucket, reconcileReportKeyFor(plan.runId, deps.resultsPrefix), report);
  const summary = Object.entries(counts)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  logger.info(`reconcile ${plan.deep ? 'deep' : 'shallow'}: ${summary} iotCalls=${report.iotCallsTotal}`, {
    counts,
    iotCalls,
  });
  deps.metrics.addMetric('CasExpiring', MetricUnit.Count, counts.expiring);
  deps.metrics.addMetric('CasRepaired', MetricUnit.Count, counts.repaired + counts.registered);
  deps.metrics.addMetric('CasOrphaned', MetricUnit.Count, counts.orphaned);
  deps.metrics.addMetric('ReconcileErrors', MetricUnit.Count, counts.errors);
  deps.metrics.publishStoredMetrics();
  return report;
};

const deps = {
  s3: createS3Client(),
  resultsPrefix: readResultsPrefix(),
  metrics: new Metrics({ namespace: 'IotCaPipeline', serviceName: 'iot-ca-pipeline' }),
};
export const handler = step({ input: ReconcileReportInputSchema, output: ReconcileReportSchema }, (event) =>
  reconcileReport(deps, event),
);
