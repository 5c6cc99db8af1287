import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { S3Client } from '@aws-sdk/client-s3';
import { readResultsPrefix } from './lambda/config.ts';
import { isPipelineError } from './core/errors.ts';
import { createEventsClient } from './aws/events.ts';
import { publishOncePerCause, transientOnly } from './aws/notices.ts';
import { logger } from './lambda/logger.ts';
import { step } from './lambda/middleware.ts';
import { buildFailureReport, buildReceipt, type FailureReport, type FlowState } from './core/results.ts';
import { registrationFailedDetail } from './core/events.ts';
import { createS3Client, findJson, putJson, resolveObject, skipNotJson } from './aws/s3.ts';
import { parseStartInput, resultKeyFor, type ObjectRef } from './core/source.ts';
import {
  FailureReportSchema,
  ReceiptSchema,
  RecordResultInputSchema,
  ResultDocumentSchema,
  RecordResultOutputSchema,
  type RecordResultInput,
  type RecordResultOutput,
} from './core/schemas.ts';

export interface RecordResultDeps {
  s3: S3Client;
  resultsPrefix: string;
  /** Where `CA Registration Failed` goes; without it no event is published (tests of the report alone). */
  events?: EventBridgeClient;
  /** `BusinessFailures` or `UnexpectedFailures` (namespace IotCaPipeline), one per failure recorded. */
  metrics?: Metrics;
  now?: () => Date;
}

const announceFailure = async (deps: RecordResultDeps, report: FailureReport, resultKey: string): Promise<void> => {
  const detail = registrationFailedDetail(report, resultKey);
  // BusinessFailures lets the alarm subtract the expected failures from ExecutionsFailed, so an
  // execution that fails without reaching this point (its report unwritten) still raises it.
  deps.metrics?.addMetric(
    detail.error.kind === 'business' ? 'BusinessFailures' : 'UnexpectedFailures',
    MetricUnit.Count,
    1,
  );
  deps.metrics?.publishStoredMetrics();
  if (!deps.events) return;
  try {
    await publishOncePerCause(
      { s3: deps.s3, events: deps.events, bucket: report.source.bucket, resultsPrefix: deps.resultsPrefix },
      [{ detailType: 'CA Registration Failed', detail }],
    );
  } catch (error) {
    // The report is written: a retry of this step rewrites it and publishes; anything else is logged.
    transientOnly(error, 'CA Registration Failed');
  }
};

/**
 * The object the flow was about. LoadCertificate read it (key, version and ETag as in the bucket);
 * when it failed first, the execution input names it, and the bucket completes it: the key as
 * stored (an event's key may be URL-encoded), its version and ETag, so that reconciliation can
 * tell this content from the next upload.
 */
const sourceOf = async (s3: S3Client, state: FlowState, input: unknown): Promise<ObjectRef | undefined> => {
  if (state.certificate?.source) return state.certificate.source;
  let named: ObjectRef;
  try {
    named = parseStartInput(input);
  } catch (error) {
    if (isPipelineError(error, 'InvalidInputError')) return undefined;
    throw error;
  }
  const stored = await resolveObject(s3, named);
  // The event's ETag names the content that was uploaded, even if the object has changed since.
  return stored ? { ...stored, ...(named.etag ? { etag: named.etag } : {}) } : named;
};

/**
 * Writes the failure report (or, given a completed flow without an error, the receipt) beside the
 * source, under the results prefix (contract): the operator who dropped the file finds the outcome
 * next to it. The state machine calls this only as RecordFailure: on success Step Functions writes
 * the receipt itself (aws-sdk:s3:putObject, docs/adr/0026), with the fields buildReceipt gives, which
 * test/local/integrations.test.ts holds equal.
 */
export const recordResult = async (deps: RecordResultDeps, event: RecordResultInput): Promise<RecordResultOutput> => {
  const { state } = event;
  const meta = {
    ...(event.executionId ? { executionId: event.executionId } : {}),
    ...(event.startTime ? { startedAt: event.startTime } : {}),
    finishedAt: (deps.now?.() ?? new Date()).toISOString(),
  };
  const source = await sourceOf(deps.s3, state, event.input);
  if (!source) {
    logger.error('flow failed on input that names no object; no report written', { errorName: state.error?.Error });
    return { outcome: 'FAILED' };
  }
  const resultKey = resultKeyFor(source.key, deps.resultsPrefix);
  const { certificate, registered, error } = state;
  if (error !== undefined || !certificate || !registered) {
    // What it replaces, if that is a result at all (an object written by hand is not).
    const replaced = ResultDocumentSchema.safeParse(
      await findJson<unknown>(deps.s3, source.bucket, resultKey).catch(skipNotJson),
    );
    const report = buildFailureReport(
      source,
      error ?? { Error: 'IncompleteFlowError' },
      certificate,
      meta,
      replaced.success ? replaced.data : undefined,
    );
    // The contract (schemas/result.schema.json) is checked before anything reads it.
    await putJson(deps.s3, source.bucket, resultKey, FailureReportSchema.parse(report));
    logger.warn('flow failed', { errorName: report.error.name, transient: report.error.transient, resultKey });
    await announceFailure(deps, report, resultKey);
    return { outcome: 'FAILED', resultKey };
  }
  const receipt = buildReceipt(certificate, registered, meta);
  await putJson(deps.s3, source.bucket, resultKey, ReceiptSchema.parse(receipt));
  logger.info('CA active', { certificateId: receipt.certificateId, resultKey });
  return { outcome: 'ACTIVE', resultKey };
};

const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME;
const deps: RecordResultDeps = {
  s3: createS3Client(),
  resultsPrefix: readResultsPrefix(),
  events: createEventsClient(),
  // FunctionName tells stages in one account apart: the alarm of each watches its own.
  metrics: new Metrics({
    namespace: 'IotCaPipeline',
    serviceName: 'iot-ca-pipeline',
    ...(functionName ? { defaultDimensions: { FunctionName: functionName } } : {}),
  }),
};
export const handler = step({ input: RecordResultInputSchema, output: RecordResultOutputSchema }, (event) =>
  recordResult(deps, event),
);
