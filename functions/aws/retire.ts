/** retire-ca's reads and writes: the receipt that names a deleted object's CA, the claim, device certificates. */
import { type IoTClient, paginateListCertificatesByCA, UpdateCertificateCommand } from '@aws-sdk/client-iot';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import pThrottle from 'p-throttle';
import { awsCall, awsErrorName, awsPages } from './sdk-errors.ts';
import { findJson, resolveObject, skipNotJson } from './s3.ts';
import { PipelineError } from '../core/errors.ts';
import { keyCandidates, resultKeyFor } from '../core/source.ts';
import { RetireClaimSchema, type RetireClaim } from '../core/retire.ts';

/**
 * The certificateId the register-ca flow recorded for a source key: the receipt's, or (a failure
 * report that replaced a receipt of a live CA) its `previous`. Undefined when nothing names one.
 */
export const certificateIdForSource = async (
  s3: S3Client,
  bucket: string,
  key: string,
  resultsPrefix: string,
): Promise<string | undefined> => {
  for (const candidate of keyCandidates(key)) {
    const result = await findJson<Record<string, unknown>>(s3, bucket, resultKeyFor(candidate, resultsPrefix)).catch(
      skipNotJson,
    );
    if (!result) continue;
    if (typeof result.certificateId === 'string') return result.certificateId;
    const previous = result.previous as { certificateId?: unknown } | undefined;
    if (typeof previous?.certificateId === 'string') return previous.certificateId;
  }
  return undefined;
};

/** Whether an object is in the bucket now (as written, or URL-decoded as S3 events carry keys). */
export const objectExists = async (s3: S3Client, bucket: string, key: string): Promise<boolean> =>
  (await resolveObject(s3, { bucket, key })) !== undefined;

/**
 * Claims one cause with a create only one writer wins (PutObject If-None-Match: *): `claimed` by
 * this call, `ours` when this execution claimed it before (a retried step), `taken` when another
 * execution did. S3's 409 ConditionalRequestConflict (a concurrent write in flight) is transient.
 */
export const claimCause = async (
  s3: S3Client,
  bucket: string,
  key: string,
  claim: RetireClaim,
): Promise<{ state: 'claimed' | 'ours' | 'taken'; owner?: string }> => {
  try {
    await awsCall('PutObject', () =>
      s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: `${JSON.stringify(claim)}\n`,
          ContentType: 'application/json',
          IfNoneMatch: '*',
        }),
      ),
    );
    return { state: 'claimed' };
  } catch (error) {
    // Another write to the key in flight: retried as a fault, after which the winner is known.
    if (awsErrorName(error) === 'ConditionalRequestConflict')
      throw new PipelineError('ServiceFaultError', `PutObject ${key}: ConditionalRequestConflict`, { cause: error });
    if (awsErrorName(error) !== 'PreconditionFailed') throw error;
  }
  const existing = RetireClaimSchema.safeParse(await findJson<unknown>(s3, bucket, key).catch(skipNotJson));
  const owner = existing.success ? existing.data.executionId : undefined;
  return owner === claim.executionId ? { state: 'ours', owner } : { state: 'taken', ...(owner ? { owner } : {}) };
};

/** One device certificate of a CA, as ListCertificatesByCA lists it. */
export interface ListedCertificate {
  certificateId: string;
  status: string;
}

/** A rate limiter for one operation: `tps` calls a second, evenly spaced. */
export const throttled = <A extends unknown[], R>(tps: number, fn: (...args: A) => Promise<R>) =>
  pThrottle({ limit: 1, interval: Math.max(1, Math.floor(1000 / tps)) })(fn);

/**
 * Every device certificate the CA signed that IoT has registered: ListCertificatesByCA, 250 a
 * page, each page under `tps`.
 */
export const listCertificatesByCa = async (
  iot: IoTClient,
  caCertificateId: string,
  tps: number,
): Promise<ListedCertificate[]> => {
  const certificates: ListedCertificate[] = [];
  const pages = paginateListCertificatesByCA({ client: iot, pageSize: 250 }, { caCertificateId });
  const iterator = awsPages('ListCertificatesByCA', pages)[Symbol.asyncIterator]();
  const nextPage = throttled(tps, () => iterator.next());
  for (;;) {
    const next = await nextPage();
    if (next.done) break;
    for (const certificate of next.value.certificates ?? []) {
      if (certificate.certificateId)
        certificates.push({ certificateId: certificate.certificateId, status: certificate.status ?? 'INACTIVE' });
    }
  }
  return certificates;
};

/**
 * UpdateCertificate REVOKED. `refused` when IoT will not change this certificate's status
 * (CertificateStateException: pending transfer); gone since the listing counts as done.
 */
export const revokeCertificate = async (
  iot: IoTClient,
  certificateId: string,
): Promise<'revoked' | 'refused' | 'gone'> => {
  try {
    await awsCall('UpdateCertificate', () =>
      iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'REVOKED' })),
    );
    return 'revoked';
  } catch (error) {
    const name = awsErrorName(error);
    if (name === 'CertificateStateException') return 'refused';
    if (name === 'ResourceNotFoundException') return 'gone';
    throw error;
  }
};
