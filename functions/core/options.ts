import { createHash } from 'node:crypto';
import { PipelineError } from './errors.ts';
import { resolveSigner, type SignerSpec } from './signer.ts';

export { parseSigner, type SignerSpec } from './signer.ts';

export const CERTIFICATE_MODES = ['DEFAULT', 'SNI_ONLY'] as const;
export type CertificateMode = (typeof CERTIFICATE_MODES)[number];
export type Tags = Record<string, string>;

export interface CaOptions {
  certificateMode: CertificateMode;
  templateName: string;
  tags: Tags;
  /** Who signs the verification certificate when the operator supplies none (DEFAULT mode only). */
  signer?: SignerSpec;
  /** The certificateId of the CA this one replaces (`iot-ca rotate`): carried to the receipt and `CA Registered`. */
  replaces?: string;
}

/** The S3 object metadata keys the pipeline reads (x-amz-meta-*); anything else is a typo. */
export const METADATA_KEYS = {
  mode: 'certificate-mode',
  template: 'template-name',
  tags: 'tags',
  signer: 'signer',
  replaces: 'replaces',
} as const;

const TEMPLATE_NAME = /^[0-9A-Za-z_-]{1,36}$/;
/** Characters AWS accepts in tag keys and values. */
const TAG_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
export const MAX_TAGS = 50;
/** Prefix of the tags the pipeline writes itself; operators may not set them (but the retire settings). */
export const PROVENANCE_PREFIX = 'iot-ca:';

/**
 * The per-CA retire settings (ADR 0025): the pipeline's prefix, but the operator's to set in the
 * object's `tags` metadata, so the CA carries them and reconciliation sees no drift. Checked here,
 * at upload, with the values retire-ca accepts.
 */
export const RETIRE_TAG_KEYS = {
  policy: `${PROVENANCE_PREFIX}retire-policy`,
  deleteAfterDays: `${PROVENANCE_PREFIX}retire-delete-after-days`,
  revokeDevices: `${PROVENANCE_PREFIX}retire-revoke-devices`,
} as const;
const RETIRE_TAG_VALUES: Record<string, RegExp> = {
  [RETIRE_TAG_KEYS.policy]: /^(deactivate|delete-after)$/i,
  [RETIRE_TAG_KEYS.deleteAfterDays]: /^\d+(\.\d+)?$/,
  [RETIRE_TAG_KEYS.revokeDevices]: /^(true|false)$/i,
};

const CERTIFICATE_ID = /^[0-9a-f]{64}$/;

const invalid = (message: string): PipelineError => new PipelineError('InvalidOptionsError', message);

export const parseCertificateMode = (value: string, source: string): CertificateMode => {
  const mode = value.trim().toUpperCase();
  if (!(CERTIFICATE_MODES as readonly string[]).includes(mode)) {
    throw invalid(`${source} is "${value}"; expected DEFAULT or SNI_ONLY.`);
  }
  return mode as CertificateMode;
};

export const parseTemplateName = (value: string, source: string): string => {
  const name = value.trim();
  if (!TEMPLATE_NAME.test(name)) {
    throw invalid(`${source} "${value}" is not a provisioning template name (1-36 characters of A-Z a-z 0-9 _ -).`);
  }
  return name;
};

/** A certificateId: 64 hex characters (upper case accepted, written lower case as AWS does). */
export const parseReplaces = (value: string, source: string): string => {
  const id = value.trim().toLowerCase();
  if (!CERTIFICATE_ID.test(id)) throw invalid(`${source} "${value}" is not a CA certificateId (64 hex characters).`);
  return id;
};

export const validateTag = (key: string, value: string, source: string): void => {
  if (key.length < 1 || key.length > 128) throw invalid(`${source}: tag key "${key}" must be 1-128 characters.`);
  if (value.length > 256) throw invalid(`${source}: the value of tag "${key}" is longer than 256 characters.`);
  if (key.toLowerCase().startsWith('aws:'))
    throw invalid(`${source}: tag keys starting with "aws:" are reserved by AWS.`);
  if (!TAG_CHARS.test(key) || !TAG_CHARS.test(value)) {
    throw invalid(
      `${source}: tag "${key}" has characters AWS does not accept (letters, digits, spaces and _ . : / = + - @).`,
    );
  }
};

/**
 * `k1=v1&k2=v2`, URL-encoded like a query string so values may hold `&` or `=`. A key given twice
 * is an error rather than a silent last-one-wins.
 */
export const parseTags = (value: string, source: string): Tags => {
  const tags: Tags = {};
  if (value.trim() === '') return tags;
  for (const pair of value.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq < 0) throw invalid(`${source}: "${pair}" is not k=v.`);
    let key: string;
    let tagValue: string;
    try {
      key = decodeURIComponent(pair.slice(0, eq).replace(/\+/g, ' ')).trim();
      tagValue = decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' ')).trim();
    } catch {
      throw invalid(`${source}: "${pair}" is not URL-encoded correctly.`);
    }
    if (key in tags) throw invalid(`${source}: tag "${key}" is given twice.`);
    validateTag(key, tagValue, source);
    const retireValue = RETIRE_TAG_VALUES[key];
    if (retireValue && !retireValue.test(tagValue))
      throw invalid(
        `${source}: tag "${key}" is "${tagValue}"; expected ${key === RETIRE_TAG_KEYS.policy ? 'deactivate or delete-after' : key === RETIRE_TAG_KEYS.deleteAfterDays ? 'a number of days' : 'true or false'}.`,
      );
    if (key.startsWith(PROVENANCE_PREFIX) && !retireValue)
      throw invalid(`${source}: tag keys starting with "${PROVENANCE_PREFIX}" are the pipeline's own.`);
    tags[key] = tagValue;
  }
  return tags;
};

export const formatTags = (tags: Tags): string =>
  Object.entries(tags)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
    .join('&');

export interface Defaults {
  certificateMode: CertificateMode;
  templateName: string;
  tags: Tags;
  /** The deployment's defaultSigner; ignored for SNI_ONLY CAs (ADR 0024). */
  signer?: SignerSpec | undefined;
}

/**
 * Options for one CA: the object's metadata over the deployment's defaults. Unknown metadata keys
 * are refused so that a typo (`certificate-mod`) never silently falls back to a default.
 * Operator tags from metadata are merged over the default tags.
 */
export const resolveOptions = (metadata: Record<string, string | undefined>, defaults: Defaults): CaOptions => {
  const known = Object.values(METADATA_KEYS) as string[];
  const unknown = Object.keys(metadata).filter((key) => !known.includes(key.toLowerCase()));
  if (unknown.length > 0) {
    throw invalid(
      `Unknown object metadata ${unknown.map((key) => `"${key}"`).join(', ')}; accepted: ${known.join(', ')}.`,
    );
  }
  const get = (key: string): string | undefined => {
    const entry = Object.entries(metadata).find(([name]) => name.toLowerCase() === key);
    return entry?.[1];
  };
  const mode = get(METADATA_KEYS.mode);
  const template = get(METADATA_KEYS.template);
  const tags = get(METADATA_KEYS.tags);
  const merged = { ...defaults.tags, ...(tags === undefined ? {} : parseTags(tags, 'metadata "tags"')) };
  const certificateMode =
    mode === undefined ? defaults.certificateMode : parseCertificateMode(mode, 'metadata "certificate-mode"');
  const signer = resolveSigner(get(METADATA_KEYS.signer), defaults.signer, certificateMode);
  const replaces = get(METADATA_KEYS.replaces);
  return {
    certificateMode,
    templateName:
      template === undefined ? defaults.templateName : parseTemplateName(template, 'metadata "template-name"'),
    tags: merged,
    ...(signer ? { signer } : {}),
    ...(replaces === undefined ? {} : { replaces: parseReplaces(replaces, 'metadata "replaces"') }),
  };
};

/** Tags the pipeline writes on every CA so that reconciliation can tell its CAs and their source. */
export const PROVENANCE_TAGS = {
  bucket: `${PROVENANCE_PREFIX}source-bucket`,
  key: `${PROVENANCE_PREFIX}source-key`,
  fingerprint: `${PROVENANCE_PREFIX}fingerprint`,
} as const;

const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * The operator's tags plus provenance. An S3 key may be longer than a tag value or use characters
 * tags refuse; then its SHA-256 stands in for it, still comparable by reconciliation.
 */
export const desiredTags = (
  operatorTags: Tags,
  source: { bucket: string; key: string },
  certificateId: string,
): Tags => {
  const keyValue =
    source.key.length <= 256 && TAG_CHARS.test(source.key) ? source.key : `sha256:${sha256Hex(source.key)}`;
  const tags = {
    ...operatorTags,
    [PROVENANCE_TAGS.bucket]: source.bucket,
    [PROVENANCE_TAGS.key]: keyValue,
    [PROVENANCE_TAGS.fingerprint]: certificateId,
  };
  if (Object.keys(tags).length > MAX_TAGS) {
    throw invalid(
      `${Object.keys(operatorTags).length} tags plus the pipeline's ${Object.keys(PROVENANCE_TAGS).length} provenance tags exceed AWS IoT's ${MAX_TAGS} tags per CA.`,
    );
  }
  return tags;
};
