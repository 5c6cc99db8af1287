/**
 * retire-ca (docs/adr/0025): what makes a CA go, decided without AWS. The shapes of the state
 * machine's input, of each step's input and output and of the retired receipt
 * (`results/retired/<certificateId>.json`, schema `iot-ca-pipeline/retired@1`), the policy a CA is
 * retired under (input, then the CA's tags, then the deployment), the cause a retirement is claimed
 * by, and the `CA Retired` event.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import { PipelineError } from './errors.ts';
import type { PipelineEvent } from './events.ts';
import { RETIRE_TAG_KEYS } from './options.ts';
import { describeIssues, hex64 } from './schemas.ts';
import { define } from './define.ts';

export const RETIRED_SCHEMA = 'iot-ca-pipeline/retired@1';

export const RETIRE_POLICIES = ['deactivate', 'delete-after'] as const;
export type RetirePolicy = (typeof RETIRE_POLICIES)[number];

/** The CA tags that override the deployment's retire settings for one CA (the input overrides both). */
export const RETIRE_TAGS = RETIRE_TAG_KEYS;

const nonNegative = /* @__PURE__ */ define(() => z.number().check(z.gte(0)));

/**
 * A Standard execution lasts at most one year (AWS Step Functions quotas); past it, it ends
 * TimedOut after the receipt promised a date. The Waits (Grace + WaitBeforeDelete) are held to
 * 360 days together, leaving 5 days for the steps around them and their retries.
 */
export const MAX_RETIRE_WAIT_DAYS = 360;
export const MAX_RETIRE_WAIT_SECONDS = MAX_RETIRE_WAIT_DAYS * 86_400;
const WAIT_LIMIT = `${MAX_RETIRE_WAIT_DAYS} days (${MAX_RETIRE_WAIT_SECONDS} s; a Standard execution lasts at most a year)`;

// ---- What starts retire-ca (contract) ----

/** The EventBridge `Object Deleted` event S3 sends (a delete, or a delete marker in a versioned bucket). */
export const S3ObjectDeletedSchema = /* @__PURE__ */ define(() =>
  z.object({
    source: z.literal('aws.s3'),
    'detail-type': z.literal('Object Deleted'),
    detail: z.object({
      bucket: z.object({ name: z.string().check(z.minLength(3)) }),
      object: z.object({
        key: z.string().check(z.minLength(1)),
        'version-id': z.optional(z.nullable(z.string())),
        sequencer: z.optional(z.nullable(z.string())),
      }),
      'deletion-type': z.optional(z.string()),
      reason: z.optional(z.string()),
    }),
  }),
);
export type S3ObjectDeleted = z.infer<typeof S3ObjectDeletedSchema>;

/** `iot-ca retire`, `rotate`, reconcile's orphans and StartExecution. */
export const RetireRequestSchema = /* @__PURE__ */ define(() =>
  z.strictObject({
    certificateId: hex64,
    reason: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
    policy: z.optional(z.enum(RETIRE_POLICIES)),
    deleteAfterDays: z.optional(nonNegative.check(z.lte(MAX_RETIRE_WAIT_DAYS, `at most ${WAIT_LIMIT}`))),
    revokeDevices: z.optional(z.boolean()),
    graceSeconds: z.optional(nonNegative.check(z.lte(MAX_RETIRE_WAIT_SECONDS, `at most ${WAIT_LIMIT}`))),
    replacedBy: z.optional(hex64),
    requestId: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
  }),
);
export type RetireRequest = z.infer<typeof RetireRequestSchema>;

export type RetireStart = { kind: 's3'; event: S3ObjectDeleted } | { kind: 'request'; request: RetireRequest };

/** The execution's input as one of the two shapes; anything else is InvalidInputError with the remedy. */
export const parseRetireInput = (input: unknown): RetireStart => {
  const s3 = S3ObjectDeletedSchema.safeParse(input);
  if (s3.success) return { kind: 's3', event: s3.data };
  const request = RetireRequestSchema.safeParse(input);
  if (request.success) return { kind: 'request', request: request.data };
  // A request whose only fault is a wait past the execution's year is a policy error, named as one.
  if (
    request.error.issues.every(
      (issue) => issue.code === 'too_big' && ['deleteAfterDays', 'graceSeconds'].includes(String(issue.path[0])),
    )
  )
    throw new PipelineError('InvalidRetirePolicyError', `retire-ca input: ${describeIssues(request.error)}.`);
  throw new PipelineError(
    'InvalidInputError',
    `retire-ca takes {"certificateId": "...", "reason"?: "..."} or an S3 "Object Deleted" event: ${describeIssues(request.error)}.`,
  );
};

// ---- The policy ----

export interface RetireDefaults {
  policy: RetirePolicy;
  deleteAfterDays: number;
  revokeDevices: boolean;
  /**
   * Seconds the Wait holds per day of `deleteAfterDays` (86400; tests compress it, as the
   * deployment param `retireSecondsPerDay` can). The receipt's `deleteAfter` is the real date.
   */
  secondsPerDay: number;
}

export interface ResolvedPolicy {
  policy: RetirePolicy;
  deleteAfterDays: number;
  revokeDevices: boolean;
  /** Where each setting came from, for the receipt: `input`, `tag` or `deployment`. */
  from: { policy: string; deleteAfterDays: string; revokeDevices: string };
}

export const parseRetirePolicy = (value: string, source: string): RetirePolicy => {
  const policy = value.trim().toLowerCase();
  if (!(RETIRE_POLICIES as readonly string[]).includes(policy))
    throw new PipelineError(
      'InvalidRetirePolicyError',
      `${source} is "${value}"; expected deactivate or delete-after.`,
    );
  return policy as RetirePolicy;
};

export const parseDays = (value: string, source: string): number => {
  const days = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(days) || days < 0)
    throw new PipelineError(
      'InvalidRetirePolicyError',
      `${source} is "${value}"; expected a number of days (0 or more).`,
    );
  if (days > MAX_RETIRE_WAIT_DAYS)
    throw new PipelineError('InvalidRetirePolicyError', `${source} is "${value}"; the limit is ${WAIT_LIMIT}.`);
  return days;
};

export const parseBoolean = (value: string, source: string): boolean => {
  const text = value.trim().toLowerCase();
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw new PipelineError('InvalidRetirePolicyError', `${source} is "${value}"; expected true or false.`);
};

/** The input's settings, else the CA's tags, else the deployment's. A malformed tag is a named error. */
export const resolvePolicy = (
  defaults: RetireDefaults,
  tags: Record<string, string>,
  request: Partial<Pick<RetireRequest, 'policy' | 'deleteAfterDays' | 'revokeDevices' | 'graceSeconds'>> = {},
): ResolvedPolicy => {
  const tag = (key: string) => (tags[key] !== undefined && tags[key] !== '' ? tags[key] : undefined);
  const policyTag = tag(RETIRE_TAGS.policy);
  const daysTag = tag(RETIRE_TAGS.deleteAfterDays);
  const revokeTag = tag(RETIRE_TAGS.revokeDevices);
  const resolved: ResolvedPolicy = {
    policy:
      request.policy ??
      (policyTag !== undefined ? parseRetirePolicy(policyTag, `tag ${RETIRE_TAGS.policy}`) : defaults.policy),
    deleteAfterDays:
      request.deleteAfterDays ??
      (daysTag !== undefined ? parseDays(daysTag, `tag ${RETIRE_TAGS.deleteAfterDays}`) : defaults.deleteAfterDays),
    revokeDevices:
      request.revokeDevices ??
      (revokeTag !== undefined ? parseBoolean(revokeTag, `tag ${RETIRE_TAGS.revokeDevices}`) : defaults.revokeDevices),
    from: {
      policy: request.policy !== undefined ? 'input' : policyTag !== undefined ? 'tag' : 'deployment',
      deleteAfterDays: request.deleteAfterDays !== undefined ? 'input' : daysTag !== undefined ? 'tag' : 'deployment',
      revokeDevices: request.revokeDevices !== undefined ? 'input' : revokeTag !== undefined ? 'tag' : 'deployment',
    },
  };
  // Grace and WaitBeforeDelete run in the same execution: together they stay within its year.
  const grace = Math.round(request.graceSeconds ?? 0);
  const wait =
    (resolved.policy === 'delete-after' ? waitSeconds(resolved.deleteAfterDays, defaults.secondsPerDay) : 0) + grace;
  if (wait > MAX_RETIRE_WAIT_SECONDS) {
    const days =
      resolved.from.deleteAfterDays === 'tag'
        ? `tag ${RETIRE_TAGS.deleteAfterDays}`
        : resolved.from.deleteAfterDays === 'input'
          ? 'input deleteAfterDays'
          : 'deployment retireDeleteAfterDays';
    throw new PipelineError(
      'InvalidRetirePolicyError',
      `${days} ${resolved.deleteAfterDays} × ${defaults.secondsPerDay} s a day + graceSeconds ${grace} is a wait of ${wait} s; the limit is ${WAIT_LIMIT}.`,
    );
  }
  return resolved;
};

// ---- The cause, claimed once ----

/**
 * What identifies this retirement, so that duplicate events and repeated starts do the work and
 * publish `CA Retired` once: the S3 event's delete-marker version (else its sequencer), the
 * request's `requestId`, else the execution's name (a retried StartExecution reuses it).
 */
export const causeOf = (start: RetireStart, executionName: string): string => {
  if (start.kind === 's3') {
    const object = start.event.detail.object;
    const id = object['version-id'] ?? object.sequencer;
    return id ? `s3-delete:${object.key}:${id}` : `s3-delete:${object.key}:${executionName}`;
  }
  return start.request.requestId ? `request:${start.request.requestId}` : `execution:${executionName}`;
};

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The receipt's key: one per CA, replaced by each retirement of it. */
export const retiredKeyFor = (resultsPrefix: string, certificateId: string): string =>
  `${resultsPrefix}retired/${certificateId}.json`;

/** The claim of one cause: written with If-None-Match: *, so only the first execution owns it. */
export const claimKeyFor = (resultsPrefix: string, certificateId: string, cause: string): string =>
  `${resultsPrefix}retired/claims/${certificateId}/${sha(cause).slice(0, 40)}.json`;

export const RetireClaimSchema = /* @__PURE__ */ define(() =>
  z.object({
    certificateId: hex64,
    cause: z.string(),
    executionId: z.string(),
    claimedAt: z.string(),
  }),
);
export type RetireClaim = z.infer<typeof RetireClaimSchema>;

// ---- Steps ----

const step = <T extends z.core.$ZodLooseShape>(shape: T) => z.object({ executionId: z.optional(z.string()), ...shape });

export const SourceSchema = /* @__PURE__ */ define(() => z.object({ bucket: z.string(), key: z.string() }));

/** Outcomes: what the receipt, the event and the execution's output say. */
export const RETIRE_OUTCOMES = [
  'retired',
  'deleted',
  'cancelled',
  'already-retired',
  'duplicate',
  'not-found',
  'not-registered',
] as const;
export type RetireOutcome = (typeof RETIRE_OUTCOMES)[number];

export const ResolveRetireInputSchema = /* @__PURE__ */ define(() =>
  step({
    input: z.unknown(),
    executionName: z.string(),
    startedAt: z.string(),
  }),
);

/** ResolveRetire's output, `$.plan`: either `proceed` with everything the later steps need, or an outcome. */
export const RetirePlanSchema = /* @__PURE__ */ define(() =>
  z.object({
    proceed: z.boolean(),
    /** Set when the flow ends here: why nothing was (or needed to be) done. */
    outcome: z.optional(z.enum(RETIRE_OUTCOMES)),
    detail: z.optional(z.string()),
    certificateId: z.optional(hex64),
    certificateArn: z.optional(z.string()),
    bucket: z.optional(z.string()),
    reason: z.string(),
    cause: z.string(),
    policy: z.enum(RETIRE_POLICIES),
    deleteAfterDays: z.number(),
    /** What the Wait holds (deleteAfterDays × secondsPerDay), a whole number of seconds. */
    deleteAfterSeconds: z.number(),
    /** The date the CA is deleted on (ISO), for the receipt: startedAt + deleteAfterDays. */
    deleteAfter: z.optional(z.string()),
    revokeDevices: z.boolean(),
    graceSeconds: z.number(),
    replacedBy: z.optional(hex64),
    requestId: z.optional(z.string()),
    source: z.optional(SourceSchema),
    policyFrom: z.optional(z.object({ policy: z.string(), deleteAfterDays: z.string(), revokeDevices: z.string() })),
    claimKey: z.optional(z.string()),
    receiptKey: z.optional(z.string()),
    /** The CA's status when the flow started. */
    status: z.optional(z.string()),
  }),
);
export type RetirePlan = z.infer<typeof RetirePlanSchema>;

export const DeviceCertificatesSchema = /* @__PURE__ */ define(() =>
  z.object({
    total: z.number(),
    byStatus: z.record(z.string(), z.number()),
  }),
);
export type DeviceCertificates = z.infer<typeof DeviceCertificatesSchema>;

export const ListDeviceCertificatesInputSchema = /* @__PURE__ */ define(() => step({ certificateId: hex64 }));
export const ListDeviceCertificatesOutputSchema = DeviceCertificatesSchema;

export const RevokeDeviceCertificatesInputSchema = /* @__PURE__ */ define(() =>
  step({
    certificateId: hex64,
    /** Revoked by earlier invocations of this execution (the loop carries it). */
    revoked: z.optional(z.number()),
    /** Refused by IoT on the pages earlier invocations went through (the loop carries it). */
    refused: z.optional(z.number()),
    /** Where the previous invocation stopped listing (its page's marker); none, null or "": the first page. */
    marker: z.optional(z.nullable(z.string())),
  }),
);
export const RevokeDeviceCertificatesOutputSchema = /* @__PURE__ */ define(() =>
  z.object({
    /** Revoked by this execution so far, this invocation included. */
    revoked: z.number(),
    /** True when the invocation stopped at its time budget: the loop runs it again. */
    remaining: z.boolean(),
    /** The device certificates this invocation listed (the pages from its marker to where it stopped). */
    listed: z.number(),
    /**
     * Refused by IoT (PENDING_TRANSFER) on the pages this execution has been through, each counted
     * once: left as they are, named in the receipt's count.
     */
    refused: z.number(),
    /** Where the next invocation lists from: the page this one stopped on (null: the first page). */
    marker: z.optional(z.nullable(z.string())),
  }),
);
export type RevokeProgress = z.infer<typeof RevokeDeviceCertificatesOutputSchema>;

export const ConfirmDeleteInputSchema = /* @__PURE__ */ define(() =>
  step({
    plan: RetirePlanSchema,
    /** The execution's start ($$.Execution.StartTime): an object written since came back. */
    startedAt: z.optional(z.string()),
    /** Set on the check after DeleteCa was refused: Step Functions' error (Error, Cause). */
    refusal: z.optional(z.object({ Error: z.optional(z.string()), Cause: z.optional(z.string()) })),
  }),
);
export const ConfirmDeleteOutputSchema = /* @__PURE__ */ define(() =>
  z.object({
    /** True: the CA is still meant to go and may be deleted. Never true after a refusal. */
    delete: z.boolean(),
    outcome: z.optional(z.enum(RETIRE_OUTCOMES)),
    detail: z.string(),
  }),
);
export type DeleteDecision = z.infer<typeof ConfirmDeleteOutputSchema>;

/** What the state machine has gathered when it records: any of it may be missing on a path that skipped it. */
export const RetireStateSchema = /* @__PURE__ */ define(() =>
  z.object({
    plan: RetirePlanSchema,
    deviceCertificates: z.optional(DeviceCertificatesSchema),
    revocation: z.optional(RevokeDeviceCertificatesOutputSchema),
    deletion: z.optional(ConfirmDeleteOutputSchema),
  }),
);

export const RecordRetiredInputSchema = /* @__PURE__ */ define(() =>
  step({
    phase: z.enum(['retired', 'final']),
    state: RetireStateSchema,
    startedAt: z.string(),
  }),
);
export type RecordRetiredInput = z.infer<typeof RecordRetiredInputSchema>;
export const RecordRetiredOutputSchema = /* @__PURE__ */ define(() =>
  z.object({
    receiptKey: z.string(),
    outcome: z.enum(RETIRE_OUTCOMES),
    published: z.boolean(),
  }),
);

// ---- The retired receipt (contract: schemas/retired.schema.json) ----

export const RetiredReceiptSchema = /* @__PURE__ */ define(() =>
  z.object({
    schema: z.literal(RETIRED_SCHEMA),
    certificateId: hex64,
    certificateArn: z.string(),
    reason: z.string(),
    cause: z.string(),
    policy: z.enum(RETIRE_POLICIES),
    outcome: z.enum(['retired', 'deleted', 'cancelled']),
    /** Set when delete-after did not delete: why (`cancelled`, or `retired` after a refused delete). */
    detail: z.optional(z.string()),
    deviceCertificates: DeviceCertificatesSchema,
    revoked: z.optional(z.object({ count: z.number(), refused: z.number(), complete: z.boolean() })),
    deleteAfter: z.optional(z.string()),
    deletedAt: z.optional(z.string()),
    replacedBy: z.optional(hex64),
    source: z.optional(SourceSchema),
    requestId: z.optional(z.string()),
    executionId: z.string(),
    startedAt: z.string(),
    finishedAt: z.string(),
  }),
);
export type RetiredReceipt = z.infer<typeof RetiredReceiptSchema>;

/** The receipt for one phase: `retired` when the CA is INACTIVE, `final` when its policy is done. */
export const buildRetiredReceipt = (
  { phase, state, startedAt }: RecordRetiredInput,
  now: Date,
  executionId: string,
): RetiredReceipt => {
  const { plan } = state;
  const input = { phase, ...state, startedAt };
  if (!plan.certificateId || !plan.certificateArn)
    throw new PipelineError('InvalidInputError', 'RecordRetired needs a plan that names the CA.');
  const outcome =
    input.phase === 'retired'
      ? 'retired'
      : input.deletion
        ? input.deletion.delete
          ? 'deleted'
          : input.deletion.outcome === 'deleted'
            ? 'deleted'
            : input.deletion.outcome === 'retired'
              ? 'retired'
              : 'cancelled'
        : 'retired';
  return {
    schema: RETIRED_SCHEMA,
    certificateId: plan.certificateId,
    certificateArn: plan.certificateArn,
    reason: plan.reason,
    cause: plan.cause,
    policy: plan.policy,
    outcome,
    ...(outcome !== 'deleted' && input.deletion ? { detail: input.deletion.detail } : {}),
    deviceCertificates: input.deviceCertificates ?? { total: 0, byStatus: {} },
    ...(input.revocation
      ? {
          revoked: {
            count: input.revocation.revoked,
            refused: input.revocation.refused,
            complete: !input.revocation.remaining,
          },
        }
      : {}),
    ...(plan.policy === 'delete-after' && plan.deleteAfter ? { deleteAfter: plan.deleteAfter } : {}),
    ...(outcome === 'deleted' ? { deletedAt: now.toISOString() } : {}),
    ...(plan.replacedBy ? { replacedBy: plan.replacedBy } : {}),
    ...(plan.source ? { source: plan.source } : {}),
    ...(plan.requestId ? { requestId: plan.requestId } : {}),
    executionId,
    startedAt: input.startedAt,
    finishedAt: now.toISOString(),
  };
};

/** The detail of `CA Retired` (contract: schemas/events/ca-retired.schema.json). */
export const CaRetiredDetailSchema = /* @__PURE__ */ define(() =>
  z.object({
    certificateId: hex64,
    certificateArn: z.string(),
    reason: z.string(),
    /** What this retirement was claimed by: the same cause never publishes twice. */
    cause: z.string(),
    policy: z.enum(RETIRE_POLICIES),
    outcome: z.literal('retired'),
    deviceCertificates: DeviceCertificatesSchema,
    replacedBy: z.optional(hex64),
    deleteAfter: z.optional(z.string()),
    receiptKey: z.string(),
    executionId: z.string(),
  }),
);
export type CaRetiredDetail = z.infer<typeof CaRetiredDetailSchema>;

/** `CA Retired`: the contract's detail, nothing that is key or certificate material. */
export const retiredEvent = (receipt: RetiredReceipt, receiptKey: string): PipelineEvent => {
  const detail: CaRetiredDetail = {
    certificateId: receipt.certificateId,
    certificateArn: receipt.certificateArn,
    reason: receipt.reason,
    cause: receipt.cause,
    policy: receipt.policy,
    outcome: 'retired',
    deviceCertificates: receipt.deviceCertificates,
    ...(receipt.replacedBy ? { replacedBy: receipt.replacedBy } : {}),
    ...(receipt.deleteAfter ? { deleteAfter: receipt.deleteAfter } : {}),
    receiptKey,
    executionId: receipt.executionId,
  };
  return { detailType: 'CA Retired', detail, resources: [receipt.certificateArn] };
};

// ---- Small pure helpers ----

/** Device certificates counted by status. */
export const countByStatus = (statuses: Iterable<string>): DeviceCertificates => {
  const byStatus: Record<string, number> = {};
  let total = 0;
  for (const status of statuses) {
    byStatus[status] = (byStatus[status] ?? 0) + 1;
    total += 1;
  }
  return { total, byStatus };
};

/** The Wait's seconds for `days`: whole seconds, at least 0. */
export const waitSeconds = (days: number, secondsPerDay: number): number =>
  Math.max(0, Math.round(days * secondsPerDay));

/** The default reason when the input gives none. */
export const reasonOf = (start: RetireStart): string =>
  start.kind === 's3' ? 'object-deleted' : (start.request.reason ?? 'requested');

/** Reconcile's start of retire-ca for an orphan: one name per CA and window, so overlapping runs start it once. */
export const retireExecutionName = (certificateId: string, windowStart: number): string =>
  `retire-${sha(`${certificateId}\n${windowStart}`).slice(0, 48)}`;
