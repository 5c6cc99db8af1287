import type { IoTClient } from '@aws-sdk/client-iot';
import type { S3Client } from '@aws-sdk/client-s3';
import { createIotClient, describeCa, listTags } from './aws/iot.ts';
import { certificateIdForSource, claimCause, objectExists } from './aws/retire.ts';
import { createS3Client, findJson, skipNotJson } from './aws/s3.ts';
import { step } from './lambda/middleware.ts';
import { readRetireConfig, type RetireConfig } from './lambda/config.ts';
import { logger } from './lambda/logger.ts';
import { PipelineError } from './core/errors.ts';
import { PROVENANCE_TAGS } from './core/options.ts';
import {
  causeOf,
  claimKeyFor,
  parseRetireInput,
  reasonOf,
  resolvePolicy,
  retiredKeyFor,
  ResolveRetireInputSchema,
  RetirePlanSchema,
  waitSeconds,
  type RetirePlan,
} from './core/retire.ts';
import type * as z from 'zod/mini';

export interface RetireDeps {
  s3: S3Client;
  iot: IoTClient;
  config: RetireConfig;
  now?: () => Date;
}

const DAY_MS = 86_400_000;

/**
 * retire-ca's first step: which CA goes and why (an S3 delete names its object, whose receipt
 * names the CA), under which policy (input, then the CA's tags, then the deployment), and the
 * claim of the cause, so that a duplicate event or a second start ends here with `duplicate`.
 * Ends the flow (proceed false) when there is nothing to retire: the object is back, nothing was
 * registered from it, the CA is gone, or it is already retired under the same policy.
 */
export const resolveRetire = async (
  deps: RetireDeps,
  event: z.infer<typeof ResolveRetireInputSchema>,
): Promise<RetirePlan> => {
  const start = parseRetireInput(event.input);
  const request = start.kind === 'request' ? start.request : undefined;
  const base = {
    reason: reasonOf(start),
    cause: causeOf(start, event.executionName),
    policy: deps.config.policy,
    deleteAfterDays: deps.config.deleteAfterDays,
    deleteAfterSeconds: 0,
    revokeDevices: deps.config.revokeDevices,
    graceSeconds: Math.round(request?.graceSeconds ?? 0),
    ...(request?.replacedBy ? { replacedBy: request.replacedBy } : {}),
    ...(request?.requestId ? { requestId: request.requestId } : {}),
  };
  const end = (outcome: RetirePlan['outcome'], detail: string, more: Partial<RetirePlan> = {}): RetirePlan => {
    logger.info('retire-ca: nothing to do', { outcome, detail });
    return { ...base, ...more, proceed: false, outcome, detail };
  };

  let certificateId: string;
  let source: { bucket: string; key: string } | undefined;
  if (start.kind === 's3') {
    const bucket = start.event.detail.bucket.name;
    const key = start.event.detail.object.key;
    source = { bucket, key };
    if (await objectExists(deps.s3, bucket, key))
      return end('cancelled', `s3://${bucket}/${key} exists again (uploaded after the delete): its CA stays.`, {
        source,
      });
    const id = await certificateIdForSource(deps.s3, bucket, key, deps.config.resultsPrefix);
    if (!id)
      return end('not-registered', `No receipt under ${deps.config.resultsPrefix} names a CA for ${key}.`, { source });
    certificateId = id;
  } else {
    certificateId = start.request.certificateId;
  }

  const ca = await describeCa(deps.iot, certificateId);
  if (!ca)
    return end('not-found', `AWS IoT has no CA ${certificateId} (never registered, or already deleted).`, {
      certificateId,
      ...(source ? { source } : {}),
    });
  const tags = await listTags(deps.iot, ca.certificateArn);
  const taggedBucket = tags[PROVENANCE_TAGS.bucket];
  const taggedKey = tags[PROVENANCE_TAGS.key];
  if (!source && taggedBucket && taggedKey && !taggedKey.startsWith('sha256:'))
    source = { bucket: taggedBucket, key: taggedKey };
  const bucket = source?.bucket ?? taggedBucket ?? deps.config.bucket;
  if (!bucket)
    throw new PipelineError(
      'CaBucketUnknownError',
      `CA ${certificateId} names no source bucket and the function has no CA_BUCKET.`,
    );
  // A CA registered again from another object since: deleting this one does not make it go.
  if (start.kind === 's3' && source && taggedKey && taggedKey !== source.key && !taggedKey.startsWith('sha256:')) {
    if (await objectExists(deps.s3, bucket, taggedKey))
      return end(
        'cancelled',
        `CA ${certificateId} is registered from s3://${bucket}/${taggedKey}, which exists: it stays.`,
        {
          certificateId,
          certificateArn: ca.certificateArn,
          source,
        },
      );
  }

  const policy = resolvePolicy(deps.config, tags, request ?? {});
  const receiptKey = retiredKeyFor(deps.config.resultsPrefix, certificateId);
  const startedAt = new Date(event.startedAt);
  const resolved = {
    ...base,
    certificateId,
    certificateArn: ca.certificateArn,
    bucket,
    policy: policy.policy,
    deleteAfterDays: policy.deleteAfterDays,
    deleteAfterSeconds: waitSeconds(policy.deleteAfterDays, deps.config.secondsPerDay),
    ...(policy.policy === 'delete-after'
      ? {
          deleteAfter: new Date(
            (Number.isNaN(startedAt.getTime()) ? Date.now() : startedAt.getTime()) + policy.deleteAfterDays * DAY_MS,
          ).toISOString(),
        }
      : {}),
    revokeDevices: policy.revokeDevices,
    policyFrom: policy.from,
    receiptKey,
    status: ca.status,
    ...(source ? { source } : {}),
  };

  if (
    ca.status === 'INACTIVE' &&
    ca.autoRegistrationStatus === 'DISABLE' &&
    policy.policy === 'deactivate' &&
    !policy.revokeDevices
  ) {
    const receipt = await findJson<{ outcome?: string }>(deps.s3, bucket, receiptKey).catch(skipNotJson);
    if (receipt?.outcome === 'retired')
      return end(
        'already-retired',
        `CA ${certificateId} is INACTIVE with auto-registration DISABLE and ${receiptKey} says retired.`,
        resolved,
      );
  }

  const claimKey = claimKeyFor(deps.config.resultsPrefix, certificateId, base.cause);
  const claim = await claimCause(deps.s3, bucket, claimKey, {
    certificateId,
    cause: base.cause,
    executionId: event.executionId ?? event.executionName,
    claimedAt: (deps.now?.() ?? new Date()).toISOString(),
  });
  if (claim.state === 'taken')
    return end(
      'duplicate',
      `Execution ${claim.owner ?? '(unknown)'} already retires CA ${certificateId} for this cause.`,
      resolved,
    );
  return { ...resolved, proceed: true, claimKey };
};

const deps: RetireDeps = { s3: createS3Client(), iot: createIotClient(), config: readRetireConfig() };
export const handler = step({ input: ResolveRetireInputSchema, output: RetirePlanSchema }, (event) =>
  resolveRetire(deps, event),
);
