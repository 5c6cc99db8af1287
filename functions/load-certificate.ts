import type { S3Client } from '@aws-sdk/client-s3';
import { inspectCaFile, readVerificationFile } from './lib/certificate.ts';
import { readDefaults } from './lib/config.ts';
import { PipelineError } from './lib/errors.ts';
import { logger } from './lib/logger.ts';
import { step } from './lib/middleware.ts';
import { desiredTags, resolveOptions, type Defaults } from './lib/options.ts';
import { createS3Client, headObject, readSmallObject, type ObjectHead } from './lib/s3.ts';
import { bareEtag, caKeysForVerification, isVerificationKey, parseStartInput, verificationKeyFor, type ObjectRef } from './lib/source.ts';
import type { LoadedCertificate, StepInput } from './lib/types.ts';

export interface LoadCertificateInput extends StepInput {
  /** The execution's input: `{bucket, key}` or an S3 `Object Created` event. */
  input: unknown;
}

export interface LoadCertificateDeps {
  s3: S3Client;
  defaults: Defaults;
  now?: () => Date;
}

/** An upload of `ca.verification.pem` re-runs the flow for the CA it belongs to. */
const locateCa = async (s3: S3Client, start: ObjectRef): Promise<{ ca: ObjectRef; head: ObjectHead; verification?: ObjectRef }> => {
  if (!isVerificationKey(start.key)) {
    const head = await headObject(s3, start);
    if (!head) throw new PipelineError('ObjectNotFoundError', `s3://${start.bucket}/${start.key} does not exist (deleted after upload?).`);
    return { ca: start, head };
  }
  const candidates = caKeysForVerification(start.key);
  for (const key of candidates) {
    const ca = { bucket: start.bucket, key };
    const head = await headObject(s3, ca);
    if (head) return { ca, head, verification: start };
  }
  throw new PipelineError(
    'ObjectNotFoundError',
    `No CA certificate beside verification certificate ${start.key}: upload ${candidates.join(' or ')}.`,
  );
};

/** Reads the CA file, pre-flights it and resolves its options: nothing here calls AWS IoT. */
export const loadCertificate = async (deps: LoadCertificateDeps, event: LoadCertificateInput): Promise<LoadedCertificate> => {
  const now = deps.now?.() ?? new Date();
  const located = await locateCa(deps.s3, parseStartInput(event.input));
  const { ca, head } = located;
  const etag = bareEtag(head.etag);
  const source: ObjectRef = { ...ca, ...(head.versionId ? { versionId: head.versionId } : {}), ...(etag ? { etag } : {}) };
  const inspection = inspectCaFile(await readSmallObject(deps.s3, source, head), now);
  const options = resolveOptions(head.metadata, deps.defaults);

  let verificationPem = inspection.verificationPem;
  let verificationSource: LoadedCertificate['verificationSource'] = verificationPem ? 'same-file' : undefined;
  if (options.certificateMode === 'SNI_ONLY' && verificationPem) {
    throw new PipelineError('VerificationNotAllowedError', 'The file holds a verification certificate, but SNI_ONLY mode takes none.');
  }
  if (options.certificateMode === 'DEFAULT' && !verificationPem) {
    const sibling = located.verification ?? { bucket: ca.bucket, key: verificationKeyFor(ca.key) };
    const siblingHead = await headObject(deps.s3, sibling);
    if (!siblingHead) {
      throw new PipelineError(
        'VerificationCertificateMissingError',
        `DEFAULT mode needs a verification certificate: none after the CA in ${ca.key} and no ${sibling.key}.`,
      );
    }
    verificationPem = readVerificationFile(await readSmallObject(deps.s3, sibling, siblingHead));
    verificationSource = 'sibling';
  }
  for (const warning of inspection.warnings) logger.warn('pre-flight warning', { certificateId: inspection.certificateId, warning });

  return {
    source,
    certificateId: inspection.certificateId,
    caPem: inspection.caPem,
    ...(verificationPem ? { verificationPem, verificationSource } : {}),
    certificateMode: options.certificateMode,
    templateName: options.templateName,
    tags: desiredTags(options.tags, ca, inspection.certificateId),
    subject: inspection.subject,
    notAfter: inspection.notAfter,
    warnings: inspection.warnings,
  };
};

const deps: LoadCertificateDeps = { s3: createS3Client(), defaults: readDefaults() };
export const handler = step((event: LoadCertificateInput) => loadCertificate(deps, event));
