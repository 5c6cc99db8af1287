import type { S3Client } from '@aws-sdk/client-s3';
import { inspectCaFile, readVerificationFile } from './core/certificate.ts';
import { readDefaults, readExpiryWarningDays } from './lambda/config.ts';
import { PipelineError } from './core/errors.ts';
import { logger } from './lambda/logger.ts';
import { step } from './lambda/middleware.ts';
import { desiredTags, resolveOptions, type Defaults, type SignerSpec } from './core/options.ts';
import { ManualInputSchema, type Announcement, type Ownership } from './core/schemas.ts';
import { createS3Client, getSmallObject, type SmallObject } from './aws/s3.ts';
import {
  bareEtag,
  caKeysForVerification,
  isVerificationKey,
  keyCandidates,
  parseStartInput,
  verificationKeyFor,
  type ObjectRef,
} from './core/source.ts';
import {
  LoadCertificateInputSchema,
  LoadedCertificateSchema,
  type LoadCertificateInput,
  type LoadedCertificate,
} from './core/schemas.ts';

export interface LoadCertificateDeps {
  s3: S3Client;
  defaults: Defaults;
  /** Warn when the CA ends within this many days (the deployment's expiryWarningDays; default 30). */
  expiryWarningDays?: number;
  now?: () => Date;
}

/** The object an event names: its key as written, else URL-decoded (see keyCandidates). */
const findObject = async (
  s3: S3Client,
  start: ObjectRef,
): Promise<{ ref: ObjectRef; object: SmallObject } | undefined> => {
  for (const key of keyCandidates(start.key)) {
    const ref = { ...start, key };
    const object = await getSmallObject(s3, ref);
    if (object) return { ref, object };
  }
  return undefined;
};

/** An upload of `ca.verification.pem` re-runs the flow for the CA it belongs to. */
const locateCa = async (
  s3: S3Client,
  start: ObjectRef,
): Promise<{
  ca: ObjectRef;
  object: SmallObject;
  verification?: { ref: ObjectRef; object: SmallObject | undefined };
}> => {
  if (!isVerificationKey(start.key)) {
    const found = await findObject(s3, start);
    if (!found)
      throw new PipelineError(
        'ObjectNotFoundError',
        `s3://${start.bucket}/${start.key} does not exist (deleted after upload?).`,
      );
    return { ca: found.ref, object: found.object };
  }
  // Read once here: the flow needs its text later (a deleted one is found missing there).
  const found = await findObject(s3, start);
  const verification = { ref: found?.ref ?? start, object: found?.object };
  const candidates = caKeysForVerification(verification.ref.key);
  for (const key of candidates) {
    const ca = { bucket: start.bucket, key };
    const object = await getSmallObject(s3, ca);
    if (object) return { ca, object, verification };
  }
  throw new PipelineError(
    'ObjectNotFoundError',
    `No CA certificate beside verification certificate ${verification.ref.key}: upload ${candidates.join(' or ')}.`,
  );
};

/** How the flow will prove ownership (ADR 0024): the operator's certificate wins over a signer. */
const ownershipPlanned = (
  mode: 'DEFAULT' | 'SNI_ONLY',
  verificationPem: string | undefined,
  signer: SignerSpec | undefined,
): Ownership => {
  if (mode === 'SNI_ONLY') return { method: 'none' };
  if (verificationPem || !signer) return { method: 'verification-certificate' };
  return { method: signer.kind, signer: signer.value };
};

/**
 * What the run will announce if it changes anything (docs/adr/0027): `CA Drift Repaired` when
 * reconciliation started it on drift, else `CA Registered`. The cause names the upload (bucket,
 * key, version or ETag), so every delivery of it shares one; a repair's names its execution, which
 * reconciliation starts once per drift and window.
 */
export const announcementFor = (
  input: unknown,
  source: ObjectRef,
  certificateId: string,
  replaces: string | undefined,
  executionId: string | undefined,
): Announcement => {
  const manual = ManualInputSchema.safeParse(input);
  const repair = manual.success ? manual.data.repair : undefined;
  const trigger = repair ? 'reconcile' : manual.success ? 'manual' : 'upload';
  const drifted = repair !== undefined && repair.drift.length > 0;
  const executionName = executionId?.split(':').pop() ?? '';
  return {
    detailType: drifted ? 'CA Drift Repaired' : 'CA Registered',
    trigger,
    cause: drifted
      ? `drift-repaired:${certificateId}:${executionName || repair.drift.join(';')}`
      : `registered:${certificateId}:s3://${source.bucket}/${source.key}@${source.versionId ?? source.etag ?? ''}`,
    replaces: replaces ?? null,
    drift: drifted ? repair.drift : null,
  };
};

/** Reads the CA file, pre-flights it and resolves its options: nothing here calls AWS IoT. */
export const loadCertificate = async (
  deps: LoadCertificateDeps,
  event: LoadCertificateInput,
): Promise<LoadedCertificate> => {
  const now = deps.now?.() ?? new Date();
  const located = await locateCa(deps.s3, parseStartInput(event.input));
  const { ca, object } = located;
  const etag = bareEtag(object.etag);
  const source: ObjectRef = {
    bucket: ca.bucket,
    key: ca.key,
    ...(object.versionId ? { versionId: object.versionId } : {}),
    ...(etag ? { etag } : {}),
  };
  const inspection = inspectCaFile(object.text, now, deps.expiryWarningDays);
  const options = resolveOptions(object.metadata, deps.defaults);

  let verificationPem = inspection.verificationPem;
  let verificationSource: LoadedCertificate['verificationSource'] = verificationPem ? 'same-file' : undefined;
  if (options.certificateMode === 'SNI_ONLY' && verificationPem) {
    throw new PipelineError(
      'VerificationNotAllowedError',
      'The file holds a verification certificate, but SNI_ONLY mode takes none.',
    );
  }
  if (options.certificateMode === 'DEFAULT' && !verificationPem) {
    const sibling = located.verification?.ref ?? { bucket: ca.bucket, key: verificationKeyFor(ca.key) };
    const siblingObject = located.verification ? located.verification.object : await getSmallObject(deps.s3, sibling);
    if (siblingObject) {
      verificationPem = readVerificationFile(siblingObject.text);
      verificationSource = 'sibling';
    } else if (!options.signer) {
      throw new PipelineError(
        'VerificationCertificateMissingError',
        `DEFAULT mode needs a verification certificate: none after the CA in ${ca.key} and no ${sibling.key} (or name a signer, ADR 0024).`,
      );
    }
    // Else VerifyOwnership has the signer make one.
  }
  for (const warning of inspection.warnings)
    logger.warn('pre-flight warning', { certificateId: inspection.certificateId, warning });

  return {
    source,
    certificateId: inspection.certificateId,
    caPem: inspection.caPem,
    ...(verificationPem ? { verificationPem, verificationSource } : {}),
    ownership: ownershipPlanned(options.certificateMode, verificationPem, options.signer),
    certificateMode: options.certificateMode,
    templateName: options.templateName,
    tags: desiredTags(options.tags, ca, inspection.certificateId),
    subject: inspection.subject,
    notAfter: inspection.notAfter,
    warnings: inspection.warnings,
    announcement: announcementFor(event.input, source, inspection.certificateId, options.replaces, event.executionId),
  };
};

const deps: LoadCertificateDeps = {
  s3: createS3Client(),
  defaults: readDefaults(),
  expiryWarningDays: readExpiryWarningDays(),
};
export const handler = step({ input: LoadCertificateInputSchema, output: LoadedCertificateSchema }, (event) =>
  loadCertificate(deps, event),
);
