import { PipelineError } from './errors.ts';

/** Where a CA file lives: the manual-execution contract and what an S3 event resolves to. */
export interface ObjectRef {
  bucket: string;
  key: string;
  versionId?: string;
  /** The object's ETag (unquoted) when read: reconciliation compares it with the bucket listing. */
  etag?: string;
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const VERIFICATION_SUFFIX = '.verification.pem';
/** The CA file endings the trigger takes, as the EventBridge rule lists them (lower and upper case). */
const CA_SUFFIXES = ['.pem', '.crt', '.PEM', '.CRT'] as const;

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const objectRef = (bucket: unknown, key: unknown, versionId: unknown, shape: string, etag?: unknown): ObjectRef => {
  if (typeof bucket !== 'string' || !BUCKET.test(bucket)) {
    throw new PipelineError('InvalidInputError', `${shape}: "bucket" must be an S3 bucket name.`);
  }
  if (typeof key !== 'string' || key.length === 0 || key.length > 1024) {
    throw new PipelineError('InvalidInputError', `${shape}: "key" must be an object key of 1-1024 characters.`);
  }
  if (versionId !== undefined && versionId !== null && typeof versionId !== 'string') {
    throw new PipelineError('InvalidInputError', `${shape}: "versionId" must be a string.`);
  }
  const bare = typeof etag === 'string' ? bareEtag(etag) : undefined;
  return { bucket, key, ...(typeof versionId === 'string' && versionId !== '' ? { versionId } : {}), ...(bare ? { etag: bare } : {}) };
};

/**
 * Accepts the two ways a flow starts: the manual contract `{"bucket", "key"}` (optionally
 * `versionId`) and the EventBridge `Object Created` event that S3 sends. Anything else, including
 * extra fields in the manual input, is an InvalidInputError rather than a guess.
 */
export const parseStartInput = (input: unknown): ObjectRef => {
  if (!isRecord(input)) throw new PipelineError('InvalidInputError', 'The execution input must be a JSON object.');
  if (input['detail-type'] !== undefined || input.source === 'aws.s3') {
    const detail = input.detail;
    if (input['detail-type'] !== 'Object Created' || !isRecord(detail) || !isRecord(detail.bucket) || !isRecord(detail.object)) {
      throw new PipelineError('InvalidInputError', `EventBridge event "${String(input['detail-type'])}" is not an S3 "Object Created" event.`);
    }
    return objectRef(detail.bucket.name, detail.object.key, detail.object['version-id'], 'S3 event', detail.object.etag);
  }
  const extra = Object.keys(input).filter((name) => !['bucket', 'key', 'versionId'].includes(name));
  if (extra.length > 0) {
    throw new PipelineError('InvalidInputError', `Unknown input field(s) ${extra.join(', ')}; expected {"bucket": "...", "key": "..."}.`);
  }
  return objectRef(input.bucket, input.key, input.versionId, 'Input');
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
export const isCaKey = (key: string): boolean => CA_SUFFIXES.some((suffix) => key.endsWith(suffix)) && !isVerificationKey(key);

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
export const reconcileReportKeyFor = (runId: string, resultsPrefix: string): string => `${reconcilePrefixFor(resultsPrefix)}${runId}.json`;

/** S3 quotes ETags in some responses and not others; compare them bare. */
export const bareEtag = (etag: string | undefined): string | undefined => etag?.replace(/^"|"$/g, '');
