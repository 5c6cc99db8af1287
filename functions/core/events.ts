/**
 * The pipeline's own events on the default EventBridge bus (README "CA lifecycle"): one source,
 * one detail-type per thing that happened. Each detail is documented by a JSON Schema under
 * schemas/events/ (`npm run schemas`). Details never carry certificate bodies or key material.
 */
import * as z from 'zod/mini';
import { ERROR_SPECS, isTransientFailure, PipelineError, type PipelineErrorName } from './errors.ts';
import type { FailureReport } from './results.ts';
import { CaRetiredDetailSchema } from './retire.ts';
import { describeIssues, hex64, ObjectRefSchema, TaskErrorSchema } from './schemas.ts';
import { define } from './define.ts';

export { CaRetiredDetailSchema } from './retire.ts';

/** `source` of every event the pipeline publishes. */
export const EVENT_SOURCE = 'iot-ca-pipeline';

/** The detail-types, the contract rules and subscribers match on. */
export const DETAIL_TYPES = [
  'CA Registered',
  'CA Registration Failed',
  'CA Expiring',
  'CA Drift Repaired',
  'CA Retired',
] as const;

export type DetailType = (typeof DETAIL_TYPES)[number];

/** One event to publish: what happened, its detail, and the ARNs it concerns. */
export interface PipelineEvent {
  detailType: DetailType;
  detail: Record<string, unknown>;
  /** ARNs of what the event is about (the CA's certificateArn), EventBridge's `resources`. */
  resources?: string[];
}

// ---- The details (contract): one zod schema per detail-type, JSON Schemas under schemas/events/ ----

/**
 * Every detail says what caused it: a string that is the same for every delivery of the same cause
 * (subscribers may deduplicate on it; the pipeline publishes once per cause) and, from a state
 * machine, its execution.
 */
const common = /* @__PURE__ */ define(() => ({
  cause: z.string().check(z.minLength(1)),
  executionId: z.optional(z.string()),
}));

/** What started the registration: an S3 upload, reconciliation, or a manual StartExecution. */
export const TriggerSchema = /* @__PURE__ */ define(() => z.enum(['upload', 'reconcile', 'manual']));

const registration = /* @__PURE__ */ define(() => ({
  ...common,
  certificateId: hex64,
  certificateArn: z.string(),
  certificateMode: z.enum(['DEFAULT', 'SNI_ONLY']),
  templateName: z.string(),
  source: ObjectRefSchema,
  /** The receipt's key in the source bucket (results/<source key>.json). */
  receiptKey: z.string(),
  /** True when the CA was already registered and this run converged it. */
  adopted: z.boolean(),
  trigger: TriggerSchema,
  /** The certificateId of the CA this one replaces (`iot-ca rotate`); null when none. */
  replaces: z.optional(z.nullable(hex64)),
  notAfter: z.string(),
}));

/** `CA Registered`: a CA went live (or was converged and changed) from its object in the bucket. */
export const CaRegisteredDetailSchema = /* @__PURE__ */ define(() =>
  z.object({
    ...registration,
    /** Always null here: a run that repairs drift announces `CA Drift Repaired` instead. */
    drift: z.optional(z.nullable(z.array(z.string()))),
  }),
);

/** `CA Drift Repaired`: reconciliation found the CA drifted and a register-ca run converged it. */
export const CaDriftRepairedDetailSchema = /* @__PURE__ */ define(() =>
  z.object({
    ...registration,
    /** What reconciliation found (`status INACTIVE`, `template not x`, `tags differ`, ...). */
    drift: z.array(z.string()),
  }),
);

/** `CA Registration Failed`: register-ca ended on an error; the failure report says the same. */
export const CaRegistrationFailedDetailSchema = /* @__PURE__ */ define(() =>
  z.object({
    ...common,
    /** Known once LoadCertificate has read the certificate. */
    certificateId: z.optional(hex64),
    source: ObjectRefSchema,
    error: z.object({
      name: z.string(),
      message: z.string(),
      remedy: z.string(),
      /** business: the file or its options; transient: retries ran out; unexpected: anything else. */
      kind: z.enum(['business', 'transient', 'unexpected']),
    }),
    receiptKey: z.string(),
  }),
);

/** `CA Expiring`: a registered CA ends within the deployment's expiryWarningDays. */
export const CaExpiringDetailSchema = /* @__PURE__ */ define(() =>
  z.object({
    ...common,
    certificateId: hex64,
    certificateArn: z.optional(z.string()),
    source: z.object({ bucket: z.string(), key: z.string() }),
    notAfter: z.string(),
    daysLeft: z.number(),
    thresholdDays: z.number(),
    /** The reconcile run that found it. */
    runId: z.string(),
  }),
);

export type CaRegisteredDetail = z.infer<typeof CaRegisteredDetailSchema>;
export type CaDriftRepairedDetail = z.infer<typeof CaDriftRepairedDetailSchema>;
export type CaRegistrationFailedDetail = z.infer<typeof CaRegistrationFailedDetailSchema>;
export type CaExpiringDetail = z.infer<typeof CaExpiringDetailSchema>;

/**
 * Each detail-type's schema (contract): a detail is checked by its detail-type, and each has its
 * JSON Schema under schemas/events/ (build/schemas.ts). `CA Retired`'s is retire-ca's (ADR 0025).
 */
export const DETAIL_SCHEMAS = {
  'CA Registered': CaRegisteredDetailSchema,
  'CA Registration Failed': CaRegistrationFailedDetailSchema,
  'CA Expiring': CaExpiringDetailSchema,
  'CA Drift Repaired': CaDriftRepairedDetailSchema,
  'CA Retired': CaRetiredDetailSchema,
} as const satisfies Record<DetailType, z.core.$ZodType>;

// ---- Pending announcements (docs/adr/0030) ----

/** The schema tag of a pending announcement: the event Announce could not publish, kept for reconciliation. */
export const PENDING_NOTICE_SCHEMA = 'iot-ca-pipeline/pending-notice@1';

/**
 * `results/notices/pending/<execution name>.json`, written by register-ca's NotAnnounced when
 * Announce failed after its retries: the same detail-type, resources and detail as Announce's
 * entry, and the error Announce caught. ReconcileReport publishes it once per cause and deletes it.
 */
export const PendingNoticeSchema = /* @__PURE__ */ define(() =>
  z.object({
    schema: z.literal(PENDING_NOTICE_SCHEMA),
    detailType: z.enum(['CA Registered', 'CA Drift Repaired']),
    resources: z.array(z.string()),
    detail: z.record(z.string(), z.unknown()),
    /** What Announce caught (Step Functions' Error and Cause): for the log, never published. */
    error: z.optional(TaskErrorSchema),
  }),
);

export type PendingNotice = z.infer<typeof PendingNoticeSchema>;

/**
 * The event a pending announcement holds, checked as a notice and its detail under its
 * detail-type's schema; the detail is published as register-ca wrote it. Anything else throws
 * MalformedPendingNoticeError (`key` names the object in the message).
 */
export const pendingNoticeEvent = (value: unknown, key: string): PipelineEvent => {
  const notice = PendingNoticeSchema.safeParse(value);
  if (!notice.success)
    throw new PipelineError(
      'MalformedPendingNoticeError',
      `${key} is not a pending announcement: ${describeIssues(notice.error)}.`,
    );
  const { detailType, detail, resources } = notice.data;
  const checked = DETAIL_SCHEMAS[detailType].safeParse(detail);
  if (!checked.success)
    throw new PipelineError(
      'MalformedPendingNoticeError',
      `${key} holds no valid "${detailType}" detail: ${describeIssues(checked.error)}.`,
    );
  return { detailType, detail, resources };
};

/**
 * business: the file, its options or the account's setup (the remedy says what to change);
 * transient: throttling or faults outlasted the retries; unexpected: anything else (a Lambda or
 * States error, an integration's own failure). RecordFailure counts the business ones as
 * BusinessFailures, which register-ca's alarm subtracts from its failed executions.
 */
export const failureKind = (name: string): CaRegistrationFailedDetail['error']['kind'] => {
  if (isTransientFailure(name)) return 'transient';
  return name in ERROR_SPECS && ERROR_SPECS[name as PipelineErrorName].kind === 'business' ? 'business' : 'unexpected';
};

/**
 * `CA Registration Failed`, once per cause: the object's content (version or ETag) and the error's
 * name. Duplicate deliveries of a bad upload, and reconciliation's reruns of a transient failure
 * that fails again the same way, announce nothing new; new content or another error does.
 */
export const registrationFailedDetail = (report: FailureReport, resultKey: string): CaRegistrationFailedDetail => {
  const { source, error } = report;
  return CaRegistrationFailedDetailSchema.parse({
    cause: `failed:s3://${source.bucket}/${source.key}@${source.versionId ?? source.etag ?? ''}:${error.name}`,
    ...(report.executionId ? { executionId: report.executionId } : {}),
    ...(report.certificateId ? { certificateId: report.certificateId } : {}),
    source,
    error: { name: error.name, message: error.message, remedy: error.remedy, kind: failureKind(error.name) },
    receiptKey: resultKey,
  });
};
