import { PipelineError } from './errors.ts';
import { describeIssues, ManualInputSchema, S3ObjectCreatedSchema, type ObjectRef } from './schemas.ts';

export type { ObjectRef } from './schemas.ts';

const VERIFICATION_SUFFIX = '.verification.pem';
/** The CA file endings the trigger takes, as the EventBridge rule lists them (lower and upper case). */
const CA_SUFFIXES = ['.pem', '.crt', '.PEM', '.CRT'] as const;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Accepts the two ways a flow starts: the manual contract `{"bucket", "key"}` (optionally
 * `versionId`) and the EventBridge `Object Created` event that S3 sends. Anything else, including
 * extra fields in the manual input, is an InvalidInputError rather than a guess.
 */
export const parseStartInput = (input: unknown): ObjectRef => {
  if (!isRecord(input)) throw new PipelineError('InvalidInputError', 'The execution input must be a JSON object.');
  if (input['detail-type'] !== undefined || input.source === 'aws.s3') {
    const event = S3ObjectCreatedSchema.safeParse(input);
    if (!event.success) {
      throw new PipelineError(
        'InvalidInputError',
        `EventBridge event "${String(input['detail-type'])}" is not an S3 "Object Created" event (${describeIssues(event.error)}).`,
      );
    }
    const { bucket, object } = event.data.detail;
    const etag = bareEtag(object.etag);
    return {
      bucket: bucket.name,
      key: object.key,
      ...(object['version-id'] ? { versionId: object['version-id'] } : {}),
      ...(etag ? { etag } : {}),
    };
  }
  const manual = ManualInputSchema.safeParse(input);
  if (!manual.success) {
    throw new PipelineError(
      'InvalidInputError',
      `Input: ${describeIssues(manual.error)}; expected {"bucket": "...", "key": "..."}.`,
    );
  }
  const { bucket, key, versionId } = manual.data;
  return { bucket, key, ...(versionId ? { versionId } : {}) };
};

/**
 * The keys an event's key may stand for, in the order to try them: as written, then URL-decoded.
 * S3 documents its notification keys as URL-encoded ("red flower.pem" arrives as
 * "red+flower.pem"); the object is looked up as written first, so a key that really holds `+` or
 * `%` is found too.
 */
export const keyCandidates = (key: string): string[] => {
  let decoded: string;
  try {
    decoded = decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return [key]; // not URL-encoding (a lone `%`): only the key as written
  }
  return decoded === key || decoded === '' ? [key] : [key, decoded];
};

/** Whether the key ends as a CA file the trigger takes (`.pem`/`.crt`, either case), verification siblings excluded. */
export const isCaKey = (key: string): boolean =>
  CA_SUFFIXES.some((suffix) => key.endsWith(suffix)) && !isVerificationKey(key);

export const isVerificationKey = (key: string): boolean => key.toLowerCase().endsWith(VERIFICATION_SUFFIX);

/** `ca.pem` or `ca.crt` → `ca.verification.pem`. */
export const verificationKeyFor = (caKey: string): string => {
  const suffix = CA_SUFFIXES.find((ending) => caKey.endsWith(ending));
  return `${suffix ? caKey.slice(0, -suffix.length) : caKey}${VERIFICATION_SUFFIX}`;
};

/** `ca.verification.pem` → the CA keys it may belong to, in the order they are tried. */
export const caKeysForVerification = (verificationKey: string): string[] => {
  const stem = verificationKey.slice(0, -VERIFICATION_SUFFIX.length);
  return CA_SUFFIXES.map((suffix) => `${stem}${suffix}`);
};

/** The result object for a source key (contract): `results/<source key>.json`. */
export const resultKeyFor = (sourceKey: string, resultsPrefix: string): string => `${resultsPrefix}${sourceKey}.json`;

/** Where reconciliation writes (contract): `results/reconcile/<run>.json`, and its run's working objects under `results/reconcile/<run>/`. */
export const reconcilePrefixFor = (resultsPrefix: string): string => `${resultsPrefix}reconcile/`;
export const reconcileReportKeyFor = (runId: string, resultsPrefix: string): string =>
  `${reconcilePrefixFor(resultsPrefix)}${runId}.json`;

/** Where the pipeline's notice markers live (one per cause, docs/adr/0028), beside its pending announcements. */
export const noticesPrefixFor = (resultsPrefix: string): string => `${resultsPrefix}notices/`;
/**
 * Where register-ca's NotAnnounced keeps an announcement Announce could not publish,
 * `results/notices/pending/<execution name>.json`, until reconciliation delivers it (docs/adr/0030).
 */
export const pendingNoticesPrefixFor = (resultsPrefix: string): string => `${noticesPrefixFor(resultsPrefix)}pending/`;

/** S3 quotes ETags in some responses and not others; compare them bare. */
export const bareEtag = (etag: string | undefined): string | undefined => etag?.replace(/^"|"$/g, '');
