/** retire-ca's reads and writes: the receipt that names a deleted object's CA, the claim, device certificates. */
import { type IoTClient, paginateListCertificatesByCA, UpdateCertificateCommand } from '@aws-sdk/client-iot';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import pThrottle from 'p-throttle';
import { awsCall, awsErrorName, awsPages } from './sdk-errors.ts';
import { findJson, isMissingObject, resolveObject, skipNotJson } from './s3.ts';
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

/** A claim as it is in the bucket, with its ETag (for a conditional take-over); undefined when gone. */
export const readClaim = async (
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<{ owner?: string; etag?: string } | undefined> => {
  try {
    const response = await awsCall('GetObject', () => s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
    const text = (await response.Body?.transformToString()) ?? '';
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const claim = RetireClaimSchema.safeParse(parsed);
    return {
      ...(claim.success ? { owner: claim.data.executionId } : {}),
      ...(response.ETag ? { etag: response.ETag } : {}),
    };
  } catch (error) {
    if (isMissingObject(error)) return undefined;
    throw error;
  }
};

const putClaim = (
  s3: S3Client,
  bucket: string,
  key: string,
  claim: RetireClaim,
  condition: { IfNoneMatch?: string; IfMatch?: string },
) =>
  awsCall('PutObject', () =>
    s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: `${JSON.stringify(claim)}\n`,
        ContentType: 'application/json',
        ...condition,
      }),
    ),
  );

/**
 * Claims one cause with a create only one writer wins (PutObject If-None-Match: *): `claimed` by
 * this call, `ours` when this execution claimed it before (a retried step), `taken` when another
 * execution did (with the claim's owner and ETag, for takeOverClaim). S3's 409
 * ConditionalRequestConflict (a concurrent write in flight) is transient.
 */
export const claimCause = async (
  s3: S3Client,
  bucket: string,
  key: string,
  claim: RetireClaim,
): Promise<{ state: 'claimed' | 'ours' | 'taken'; owner?: string; etag?: string }> => {
  try {
    await putClaim(s3, bucket, key, claim, { IfNoneMatch: '*' });
    return { state: 'claimed' };
  } catch (error) {
    // Another write to the key in flight: retried as a fault, after which the winner is known.
    if (awsErrorName(error) === 'ConditionalRequestConflict')
      throw new PipelineError('ServiceFaultError', `PutObject ${key}: ConditionalRequestConflict`, { cause: error });
    if (awsErrorName(error) !== 'PreconditionFailed') throw error;
  }
  const existing = await readClaim(s3, bucket, key);
  // Released between the two calls: the step's retry claims it afresh.
  if (!existing) throw new PipelineError('ServiceFaultError', `${key} was released while being claimed; retrying.`);
  const { owner, etag } = existing;
  return owner === claim.executionId
    ? { state: 'ours', owner }
    : { state: 'taken', ...(owner ? { owner } : {}), ...(etag ? { etag } : {}) };
};

/**
 * Replaces a claim whose owner will never finish (stopped, timed out, failed without releasing
 * it) with this execution's, only if it is still the claim that was read (If-Match on its ETag):
 * of two executions taking over at once, one wins. `lost` when another write came first.
 */
export const takeOverClaim = async (
  s3: S3Client,
  bucket: string,
  key: string,
  claim: RetireClaim,
  etag: string,
): Promise<'claimed' | 'lost'> => {
  try {
    await putClaim(s3, bucket, key, claim, { IfMatch: etag });
    return 'claimed';
  } catch (error) {
    const name = awsErrorName(error);
    if (name === 'ConditionalRequestConflict')
      throw new PipelineError('ServiceFaultError', `PutObject ${key}: ConditionalRequestConflict`, { cause: error });
    // Released since (If-Match on no object): the step's retry claims it afresh.
    if (isMissingObject(error))
      throw new PipelineError('ServiceFaultError', `${key} was released while being taken over; retrying.`);
    if (name === 'PreconditionFailed') return 'lost';
    throw error;
  }
};

/**
 * The status of the execution that owns a claim (DescribeExecution): RUNNING, SUCCEEDED, FAILED,
 * TIMED_OUT, ABORTED...; `MISSING` when Step Functions has no such execution (expired from its
 * history, or never one), `UNKNOWN` when the owner is not an execution ARN.
 */
export const ownerStatus = async (sfn: SFNClient, owner: string | undefined): Promise<string> => {
  if (!owner?.startsWith('arn:')) return 'UNKNOWN';
  try {
    const described = await awsCall('DescribeExecution', () =>
      sfn.send(new DescribeExecutionCommand({ executionArn: owner })),
    );
    return described.status ?? 'UNKNOWN';
  } catch (error) {
    if (awsErrorName(error) === 'ExecutionDoesNotExist') return 'MISSING';
    throw error;
  }
};

/** One device certificate of a CA, as ListCertificatesByCA lists it. */
export interface ListedCertificate {
  certificateId: string;
  status: string;
}

/** A rate limiter for one operation: `tps` calls a second, evenly spaced. */
export const throttled = <A extends unknown[], R>(tps: number, fn: (...args: A) => Promise<R>) =>
  pThrottle({ limit: 1, interval: Math.max(1, Math.floor(1000 / tps)) })(fn);

/** One page of a CA's device certificates, with the marker that lists it and the one after it. */
export interface CertificatePage {
  /** The marker this page was listed with (none for the first): listing it again starts here. */
  marker: string | undefined;
  certificates: ListedCertificate[];
}

/**
 * The device certificates the CA signed that IoT has registered, a page at a time from `marker`
 * (the first page without one): ListCertificatesByCA, 250 a page, each page under `tps`.
 */
export async function* certificatePagesByCa(
  iot: IoTClient,
  caCertificateId: string,
  tps: number,
  marker?: string,
): AsyncGenerator<CertificatePage> {
  const pages = paginateListCertificatesByCA(
    { client: iot, pageSize: 250, ...(marker ? { startingToken: marker } : {}) },
    { caCertificateId },
  );
  const iterator = awsPages('ListCertificatesByCA', pages)[Symbol.asyncIterator]();
  const nextPage = throttled(tps, () => iterator.next());
  let start = marker;
  for (;;) {
    const next = await nextPage();
    if (next.done) return;
    yield {
      marker: start,
      certificates: (next.value.certificates ?? []).flatMap((certificate) =>
        certificate.certificateId
          ? [{ certificateId: certificate.certificateId, status: certificate.status ?? 'INACTIVE' }]
          : [],
      ),
    };
    start = next.value.nextMarker;
  }
}

/** Every device certificate the CA signed that IoT has registered, all pages. */
export const listCertificatesByCa = async (
  iot: IoTClient,
  caCertificateId: string,
  tps: number,
): Promise<ListedCertificate[]> => {
  const certificates: ListedCertificate[] = [];
  for await (const page of certificatePagesByCa(iot, caCertificateId, tps)) certificates.push(...page.certificates);
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
