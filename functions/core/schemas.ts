/**
 * The shapes at every boundary: what starts an execution, what each step takes and returns, and the
 * result contract written beside each CA file. The TypeScript types derive from these schemas, and
 * every handler parses its input and output through them (middleware.ts `step`).
 *
 * zod/mini, not zod: the same schemas, tree-shaken, add ~14 KB to a bundle where `zod` adds ~450 KB.
 */
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { define } from './define.ts';

// English messages only (all locales would add ~260 KB).
z.config(en());

/** What zod found wrong, as `path: message` pairs: names fields, never quotes their values. */
export const describeIssues = (error: z.core.$ZodError): string =>
  error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(input)'}: ${issue.message}`)
    .join('; ');

/** A certificate id as AWS IoT gives it: 64 lower-case hexadecimal characters (the one definition). */
export const hex64 = /* @__PURE__ */ define(() =>
  z.string().check(z.regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hexadecimal characters')),
);
const isoDate = /* @__PURE__ */ define(() => z.string());

export const CertificateModeSchema = /* @__PURE__ */ define(() => z.enum(['DEFAULT', 'SNI_ONLY']));
export const TagsSchema = /* @__PURE__ */ define(() => z.record(z.string(), z.string()));

/** Where a CA file lives: the manual-execution contract and what an S3 event resolves to. */
export const ObjectRefSchema = /* @__PURE__ */ define(() =>
  z.object({
    bucket: z.string(),
    key: z.string(),
    versionId: z.optional(z.string()),
    /** The object's ETag (unquoted): reconciliation compares it with the bucket listing. */
    etag: z.optional(z.string()),
  }),
);

// ---- What starts an execution (contract) ----

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const bucketName = /* @__PURE__ */ define(() =>
  z.string().check(z.regex(BUCKET_NAME, '"bucket" must be an S3 bucket name')),
);
const objectKey = /* @__PURE__ */ define(() =>
  z
    .string()
    .check(
      z.minLength(1, '"key" must be an object key of 1-1024 characters'),
      z.maxLength(1024, '"key" must be an object key of 1-1024 characters'),
    ),
);

/**
 * Why reconciliation started a flow (its StartExecution adds this): `drift` lists what it found
 * drifted, empty when the CA was never registered or its last flow failed transiently. A run with
 * drift announces `CA Drift Repaired` instead of `CA Registered`.
 */
export const RepairSchema = /* @__PURE__ */ define(() =>
  z.strictObject({
    reason: z.string().check(z.minLength(1)),
    drift: z.array(z.string()),
  }),
);

/** `StartExecution` with `{"bucket", "key"}` (optionally `versionId`; reconciliation adds `repair`); nothing else. */
export const ManualInputSchema = /* @__PURE__ */ define(() =>
  z.strictObject({
    bucket: bucketName,
    key: objectKey,
    versionId: z.optional(z.nullable(z.string())),
    repair: z.optional(RepairSchema),
  }),
);

/** The EventBridge `Object Created` event S3 sends (the fields the pipeline reads; the rest pass). */
export const S3ObjectCreatedSchema = /* @__PURE__ */ define(() =>
  z.object({
    source: z.literal('aws.s3'),
    'detail-type': z.literal('Object Created'),
    detail: z.object({
      bucket: z.object({ name: bucketName }),
      object: z.object({
        key: objectKey,
        etag: z.optional(z.string()),
        'version-id': z.optional(z.nullable(z.string())),
        size: z.optional(z.number()),
      }),
    }),
  }),
);

/** `StartExecution` of reconcile: `{"bucket": "<CA bucket>", "deep": false}` (the schedules send this). */
export const ReconcileInputSchema = /* @__PURE__ */ define(() => z.object({ bucket: bucketName, deep: z.boolean() }));

// ---- Steps (each with `executionId`, so its logs join the execution) ----

const step = <T extends z.core.$ZodLooseShape>(shape: T) => z.object({ executionId: z.optional(z.string()), ...shape });

/** How the CA's ownership was proven (receipt `ownership`): see ADR 0024. */
export const OwnershipSchema = /* @__PURE__ */ define(() =>
  z.object({
    method: z.enum(['verification-certificate', 'kms', 'pca', 'none']),
    /** The signer as the options named it (`kms:alias/…`, `pca:arn:…`): an identifier, never key material. */
    signer: z.optional(z.string()),
  }),
);

/** VerifyOwnership's output, `$.certificate.verification` in the state machine. */
export const VerifyOwnershipOutputSchema = /* @__PURE__ */ define(() =>
  z.object({
    verified: z.literal(true),
    registrationCode: z.string(),
    verificationCertificateId: hex64,
    verificationSubject: z.string(),
    ownership: OwnershipSchema,
  }),
);

/**
 * What the run will announce when it makes a change (LoadCertificate knows all of it but the ARN):
 * the Announce state copies these into the event. `replaces` and `drift` are null when they do not
 * apply, because a state's Parameters cannot leave a field out.
 */
export const AnnouncementSchema = /* @__PURE__ */ define(() =>
  z.object({
    detailType: z.enum(['CA Registered', 'CA Drift Repaired']),
    trigger: z.enum(['upload', 'reconcile', 'manual']),
    /** Same for every delivery of the same upload (or the same repair): once per cause. */
    cause: z.string(),
    replaces: z.nullable(hex64),
    drift: z.nullable(z.array(z.string())),
  }),
);

/** LoadCertificate's output, `$.certificate` in the state machine. Public material only. */
export const LoadedCertificateSchema = /* @__PURE__ */ define(() =>
  z.object({
    source: ObjectRefSchema,
    certificateId: hex64,
    caPem: z.string(),
    verificationPem: z.optional(z.string()),
    /** Where the verification certificate came from: the CA file or its sibling object. */
    verificationSource: z.optional(z.enum(['same-file', 'sibling'])),
    /**
     * How ownership will be proven, known once the options are: the operator's verification
     * certificate, a signer (`kms`/`pca`, which VerifyOwnership asks) or nothing (SNI_ONLY). Always
     * set by LoadCertificate, so the receipt can copy `$.certificate.ownership` on every path.
     */
    ownership: z.optional(OwnershipSchema),
    /** Set by VerifyOwnership (ResultPath `$.certificate.verification`). */
    verification: z.optional(VerifyOwnershipOutputSchema),
    certificateMode: CertificateModeSchema,
    templateName: z.string(),
    /** Operator tags plus the pipeline's provenance tags: exactly what the CA should carry. */
    tags: TagsSchema,
    subject: z.string(),
    notAfter: isoDate,
    warnings: z.array(z.string()),
    /** Always set by LoadCertificate: Announce and the receipt read it (optional for older inputs). */
    announcement: z.optional(AnnouncementSchema),
  }),
);

export const RegisteredCaSchema = /* @__PURE__ */ define(() =>
  z.object({
    certificateId: hex64,
    certificateArn: z.string(),
    /** True when the CA was already registered and this run adopted it. */
    adopted: z.boolean(),
    /** True when this run registered the CA with its template and tags: nothing left to converge. */
    configured: z.boolean(),
    status: z.string(),
    /**
     * An adopted CA that was already ACTIVE with auto-registration ENABLE and the template asked
     * for: if its tags are right too, the run changes nothing and announces nothing (a duplicate
     * delivery of the same upload).
     */
    converged: z.optional(z.boolean()),
  }),
);

/** A failed Task as Step Functions hands it to a Catch's ResultPath. */
export const TaskErrorSchema = /* @__PURE__ */ define(() =>
  z.object({ Error: z.optional(z.string()), Cause: z.optional(z.string()) }),
);

export const LoadCertificateInputSchema = /* @__PURE__ */ define(() => step({ input: z.unknown() }));
export const VerifyOwnershipInputSchema = /* @__PURE__ */ define(() => step({ certificate: LoadedCertificateSchema }));
export const RegisterCaInputSchema = /* @__PURE__ */ define(() => step({ certificate: LoadedCertificateSchema }));
export const SignVerificationInputSchema = /* @__PURE__ */ define(() => step({ certificate: LoadedCertificateSchema }));
/** The verification certificate's PEM (public): the state machine puts it at `$.certificate.verificationPem`. */
export const SignVerificationOutputSchema = /* @__PURE__ */ define(() => z.string().check(z.minLength(1)));
export const AttachTemplateInputSchema = /* @__PURE__ */ define(() =>
  step({ certificateId: hex64, templateName: z.string().check(z.minLength(1)) }),
);
export const AttachTemplateOutputSchema = /* @__PURE__ */ define(() => z.object({ templateName: z.string() }));
export const TagCaInputSchema = /* @__PURE__ */ define(() =>
  step({ certificateArn: z.string().check(z.minLength(1)), tags: TagsSchema }),
);
export const TagCaOutputSchema = /* @__PURE__ */ define(() =>
  z.object({ set: z.array(z.string()), removed: z.array(z.string()) }),
);

/** What the state machine has accumulated when it reaches RecordResult/RecordFailure. */
export const FlowStateSchema = /* @__PURE__ */ define(() =>
  z.looseObject({
    certificate: z.optional(LoadedCertificateSchema),
    registered: z.optional(RegisteredCaSchema),
    error: z.optional(TaskErrorSchema),
  }),
);
export const RecordResultInputSchema = /* @__PURE__ */ define(() =>
  step({
    startTime: z.optional(z.string()),
    state: FlowStateSchema,
    /** The execution's input (`$$.Execution.Input`): names the object when LoadCertificate failed. */
    input: z.optional(z.unknown()),
  }),
);
export const RecordResultOutputSchema = /* @__PURE__ */ define(() =>
  z.object({
    outcome: z.enum(['ACTIVE', 'FAILED']),
    /** Where the receipt or report was written; absent when the input named no object. */
    resultKey: z.optional(z.string()),
  }),
);

// ---- Reconciliation's steps ----

export const ReconcileCountsSchema = /* @__PURE__ */ define(() =>
  z.object({
    objects: z.number(),
    inSync: z.number(),
    registered: z.number(),
    repaired: z.number(),
    alreadyStarted: z.number(),
    /** Objects uploaded within the grace period whose own flow has not written its result yet. */
    pending: z.number(),
    /** Flows that ended on a transient error (throttling, faults, timeouts) started again. */
    retried: z.number(),
    failed: z.number(),
    orphaned: z.number(),
    /**
     * CAs retired since their last receipt (results/retired/<certificateId>.json newer than it):
     * left as retire-ca left them, neither repaired nor retired again (docs/adr/0025).
     */
    retired: z.number(),
    deactivated: z.number(),
    expiring: z.number(),
    errors: z.number(),
    deepChecked: z.number(),
  }),
);
const iotCalls = /* @__PURE__ */ define(() => z.record(z.string(), z.number()));

export const ReconcilePlanInputSchema = /* @__PURE__ */ define(() =>
  step({
    /** The bucket to reconcile (the deployment's CA bucket). */
    bucket: bucketName,
    deep: z.optional(z.boolean()),
    /** The reconcile execution's name: names this run's report and chunk objects. */
    runId: z.string().check(z.minLength(1)),
  }),
);
export const ReconcilePlanOutputSchema = /* @__PURE__ */ define(() =>
  z.object({
    runId: z.string(),
    bucket: z.string(),
    deep: z.boolean(),
    counts: ReconcileCountsSchema,
    iotCalls,
    /** Objects holding the deep-check candidates, one Map iteration each. */
    chunks: z.array(z.string()),
    findingsKey: z.string(),
  }),
);
export const ReconcileDeepInputSchema = /* @__PURE__ */ define(() =>
  step({ bucket: bucketName, chunkKey: z.string().check(z.minLength(1)) }),
);
export const ReconcileDeepOutputSchema = /* @__PURE__ */ define(() =>
  z.object({ counts: ReconcileCountsSchema, iotCalls }),
);
export const ReconcileReportInputSchema = /* @__PURE__ */ define(() =>
  step({
    plan: ReconcilePlanOutputSchema,
    deep: z.optional(z.array(ReconcileDeepOutputSchema)),
    startTime: z.optional(z.string()),
  }),
);
/** results/reconcile/<run>.json (contract). */
export const ReconcileReportSchema = /* @__PURE__ */ define(() =>
  z.object({
    schema: z.literal('iot-ca-pipeline/reconcile@1'),
    runId: z.string(),
    deep: z.boolean(),
    counts: ReconcileCountsSchema,
    iotCalls,
    iotCallsTotal: z.number(),
    findingsKey: z.string(),
    /**
     * Pending announcements (CA Registered / CA Drift Repaired that register-ca could not publish,
     * docs/adr/0030) this run published; absent in reports written before it existed.
     */
    announced: z.optional(z.number()),
    startedAt: z.optional(z.string()),
    finishedAt: z.string(),
  }),
);

// ---- The result contract: results/<source key>.json ----

/** The schema tag of every result object (contract): bump it when a field changes meaning. */
export const RESULT_SCHEMA = 'iot-ca-pipeline/result@1';

const resultBase = /* @__PURE__ */ define(() => ({
  schema: z.literal(RESULT_SCHEMA),
  source: ObjectRefSchema,
  executionId: z.optional(z.string()),
  startedAt: z.optional(isoDate),
  finishedAt: isoDate,
}));

export const ReceiptSchema = /* @__PURE__ */ define(() =>
  z.object({
    ...resultBase,
    outcome: z.literal('ACTIVE'),
    certificateId: hex64,
    certificateArn: z.string(),
    certificateMode: CertificateModeSchema,
    templateName: z.string(),
    tags: TagsSchema,
    adopted: z.boolean(),
    subject: z.string(),
    notAfter: isoDate,
    warnings: z.array(z.string()),
    /** How ownership of the CA key was proven; absent in receipts written before it existed. */
    ownership: z.optional(OwnershipSchema),
    /** The certificateId of the CA this one replaces (object metadata `replaces`, `iot-ca rotate`); null when none. */
    replaces: z.optional(z.nullable(hex64)),
  }),
);

/** What a failure report keeps of the receipt it replaced: that CA is still live as it left it. */
export const PreviousReceiptSchema = /* @__PURE__ */ define(() =>
  z.object({
    outcome: z.literal('ACTIVE'),
    certificateId: hex64,
    certificateArn: z.string(),
    source: ObjectRefSchema,
    finishedAt: isoDate,
  }),
);

export const FailureReportSchema = /* @__PURE__ */ define(() =>
  z.object({
    ...resultBase,
    outcome: z.literal('FAILED'),
    /**
     * `transient`: the flow ended on throttling, a service fault or a timeout after its retries, not
     * on anything wrong with the file; the next reconciliation runs it again.
     */
    error: z.object({ name: z.string(), message: z.string(), remedy: z.string(), transient: z.boolean() }),
    certificateId: z.optional(hex64),
    subject: z.optional(z.string()),
    previous: z.optional(PreviousReceiptSchema),
  }),
);

export const ResultDocumentSchema = /* @__PURE__ */ define(() =>
  z.discriminatedUnion('outcome', [ReceiptSchema, FailureReportSchema]),
);

export type ObjectRef = z.infer<typeof ObjectRefSchema>;
export type Repair = z.infer<typeof RepairSchema>;
export type Announcement = z.infer<typeof AnnouncementSchema>;
export type LoadedCertificate = z.infer<typeof LoadedCertificateSchema>;
export type RegisteredCa = z.infer<typeof RegisteredCaSchema>;
export type FlowState = z.infer<typeof FlowStateSchema>;
export type Receipt = z.infer<typeof ReceiptSchema>;
export type PreviousReceipt = z.infer<typeof PreviousReceiptSchema>;
export type FailureReport = z.infer<typeof FailureReportSchema>;
export type ResultDocument = z.infer<typeof ResultDocumentSchema>;
export type LoadCertificateInput = z.infer<typeof LoadCertificateInputSchema>;
export type VerifyOwnershipInput = z.infer<typeof VerifyOwnershipInputSchema>;
export type VerifyOwnershipOutput = z.infer<typeof VerifyOwnershipOutputSchema>;
export type Ownership = z.infer<typeof OwnershipSchema>;
export type RegisterCaInput = z.infer<typeof RegisterCaInputSchema>;
export type SignVerificationInput = z.infer<typeof SignVerificationInputSchema>;
export type AttachTemplateInput = z.infer<typeof AttachTemplateInputSchema>;
export type AttachTemplateOutput = z.infer<typeof AttachTemplateOutputSchema>;
export type TagCaInput = z.infer<typeof TagCaInputSchema>;
export type TagCaOutput = z.infer<typeof TagCaOutputSchema>;
export type RecordResultInput = z.infer<typeof RecordResultInputSchema>;
export type RecordResultOutput = z.infer<typeof RecordResultOutputSchema>;
export type ReconcileCounts = z.infer<typeof ReconcileCountsSchema>;
export type ReconcilePlanInput = z.infer<typeof ReconcilePlanInputSchema>;
export type ReconcilePlanOutput = z.infer<typeof ReconcilePlanOutputSchema>;
export type ReconcileDeepInput = z.infer<typeof ReconcileDeepInputSchema>;
export type ReconcileDeepOutput = z.infer<typeof ReconcileDeepOutputSchema>;
export type ReconcileReportInput = z.infer<typeof ReconcileReportInputSchema>;
export type ReconcileReport = z.infer<typeof ReconcileReportSchema>;
