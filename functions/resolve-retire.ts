import type { IoTClient } from '@aws-sdk/client-iot';
import type { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { createIotClient, describeCa, listTags } from './aws/iot.ts';
import { certificateIdForSource, claimCause, objectExists, ownerStatus, takeOverClaim } from './aws/retire.ts';
import { createS3Client, findJson, skipNotJson } from './aws/s3.ts';
import { SDK_MAX_ATTEMPTS } from './aws/sdk-errors.ts';
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
  /** DescribeExecution of a claim's owner, to take over a claim whose execution will never finish. */
  sfn: SFNClient;
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
  // Claims and receipts go to the stack's bucket (CA_BUCKET), the only one the roles write to:
  // the provenance tag may name another bucket, which only describes where the CA came from.
  const bucket = deps.config.bucket ?? source?.bucket ?? taggedBucket;
  if (!bucket)
    throw new PipelineError(
      'CaBucketUnknownError',
      `CA ${certificateId} names no source bucket and the function has no CA_BUCKET.`,
    );
  // A CA registered again from another object since: deleting this one does not make it go.
  // (Only looked for in the deleted object's bucket, the one the role may read.)
  if (
    start.kind === 's3' &&
    source &&
    taggedKey &&
    taggedKey !== source.key &&
    !taggedKey.startsWith('sha256:') &&
    (taggedBucket ?? source.bucket) === source.bucket
  ) {
    if (await objectExists(deps.s3, source.bucket, taggedKey))
      return end(
        'cancelled',
        `CA ${certificateId} is registered from s3://${source.bucket}/${taggedKey}, which exists: it stays.`,
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
  const mine = {
    certificateId,
    cause: base.cause,
    executionId: event.executionId ?? event.executionName,
    claimedAt: (deps.now?.() ?? new Date()).toISOString(),
  };
  const claim = await claimCause(deps.s3, bucket, claimKey, mine);
  if (claim.state === 'taken') {
    const owner = claim.owner ?? '(unknown)';
    // ReleaseClaim runs only from a Catch before Deactivate: an owner stopped, timed out, or failed
    // from Deactivate on (docs/adr/0031) keeps the claim. Such a claim is taken over, if still the
    // one read.
    const status = await ownerStatus(deps.sfn, claim.owner);
    if (status === 'RUNNING')
      return end(
        'duplicate',
        `Execution ${owner} is retiring CA ${certificateId} for this cause and is still running: wait for it to end, or stop it (aws stepfunctions stop-execution) and start again.`,
        resolved,
      );
    if (status === 'SUCCEEDED' || status === 'UNKNOWN' || !claim.etag)
      return end(
        'duplicate',
        `Execution ${owner} already retired CA ${certificateId} for this cause${status === 'SUCCEEDED' ? '' : ` (status ${status})`}.`,
        resolved,
      );
    if ((await takeOverClaim(deps.s3, bucket, claimKey, mine, claim.etag)) === 'lost')
      return end(
        'duplicate',
        `Another execution took over the claim of ${owner} (${status}) on CA ${certificateId} first.`,
        resolved,
      );
    logger.info('retire-ca: claim taken over', { claimKey, owner, ownerStatus: status });
  }
  return { ...resolved, proceed: true, claimKey };
};

const deps: RetireDeps = {
  s3: createS3Client(),
  iot: createIotClient(),
  sfn: new SFNClient({ maxAttempts: SDK_MAX_ATTEMPTS }),
  config: readRetireConfig(),
};
export const handler = step({ input: ResolveRetireInputSchema, output: RetirePlanSchema }, (event) =>
  resolveRetire(deps, event),
);
