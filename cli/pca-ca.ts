/**
 * A root CA in AWS Private CA: CreateCertificateAuthority (ROOT), its CSR, the CA certificate
 * issued to itself from that CSR with the RootCACertificate/V1 template, imported back, then read
 * as the service holds it. The key is made and kept by Private CA; this process never sees it.
 */
import {
  type ACMPCAClient,
  type ASN1Subject,
  CreateCertificateAuthorityCommand,
  GetCertificateAuthorityCertificateCommand,
  GetCertificateAuthorityCsrCommand,
  GetCertificateCommand,
  ImportCertificateAuthorityCertificateCommand,
  IssueCertificateCommand,
  waitUntilCertificateAuthorityCSRCreated,
  waitUntilCertificateIssued,
} from '@aws-sdk/client-acm-pca';
import { randomBytes } from 'node:crypto';
import { DN_ATTRIBUTES, type DnPart } from './dn.ts';
import type { MadeCa } from './kms-ca.ts';
import { CliError } from './output.ts';
import { serviceError, type SignerServices } from './signer-services.ts';

/** Key algorithms `ca create` makes, first the default, each with the algorithm the CA signs with. */
export const PCA_KEY_ALGORITHMS = {
  EC_prime256v1: 'SHA256WITHECDSA',
  RSA_2048: 'SHA256WITHRSA',
} as const;
export type PcaKeyAlgorithm = keyof typeof PCA_KEY_ALGORITHMS;

/** The template that issues a CA certificate for the CA's own CSR (AWS Private CA's docs). */
export const ROOT_CA_TEMPLATE = 'arn:aws:acm-pca:::template/RootCACertificate/V1';
/** How long the SDK's waiters poll before giving up, seconds (AWS answers in seconds). */
const WAIT_SECONDS = 300;

export interface PcaCaRequest {
  subject: DnPart[];
  keyAlgorithm: PcaKeyAlgorithm;
  days: number;
  now: Date;
}

const asn1Subject = (parts: DnPart[]): ASN1Subject =>
  Object.fromEntries(parts.map((part) => [DN_ATTRIBUTES[part.type], part.value])) as ASN1Subject;

const inProgress = (error: unknown): boolean =>
  (error as { name?: string } | undefined)?.name === 'RequestInProgressException';

/**
 * A Get that answers RequestInProgressException until its resource is ready: tried once at once
 * (so a denial is reported now, not after the waiter's timeout: the SDK's waiters retry on every
 * error), then through the SDK's waiter.
 */
const whenReady = async <T>(get: () => Promise<T>, wait: () => Promise<{ reason?: unknown }>): Promise<T> => {
  try {
    return await get();
  } catch (error) {
    if (!inProgress(error)) throw error;
  }
  const { reason } = await wait();
  return reason as T;
};

const text = (value: string | Uint8Array | undefined): string =>
  typeof value === 'string' ? value : value ? Buffer.from(value).toString('utf8') : '';

export const createPcaCa = async (
  services: SignerServices,
  request: PcaCaRequest,
  progress: (message: string) => void,
): Promise<MadeCa> => {
  const pca: ACMPCAClient = services.pca();
  const fail = (operation: string, made?: string) => (error: unknown) => {
    throw serviceError(error, 'pca', operation, services.where, made);
  };
  const signingAlgorithm = PCA_KEY_ALGORITHMS[request.keyAlgorithm];

  progress(`creating a root certificate authority in AWS Private CA (${request.keyAlgorithm})`);
  const created = await pca
    .send(
      new CreateCertificateAuthorityCommand({
        CertificateAuthorityType: 'ROOT',
        CertificateAuthorityConfiguration: {
          KeyAlgorithm: request.keyAlgorithm,
          SigningAlgorithm: signingAlgorithm,
          Subject: asn1Subject(request.subject),
        },
        IdempotencyToken: randomBytes(8).toString('hex'),
      }),
    )
    .catch(fail('CreateCertificateAuthority'));
  const arn = created.CertificateAuthorityArn;
  if (!arn) throw new CliError('UnexpectedResponseError', 'Private CA CreateCertificateAuthority returned no ARN.');
  const made = `The certificate authority ${arn} was created (AWS bills it monthly until deleted): finish it, or delete it (aws acm-pca delete-certificate-authority --certificate-authority-arn ${arn}).`;
  const waiter = { client: pca, maxWaitTime: WAIT_SECONDS };

  progress(`${arn}: waiting for its CSR`);
  const csr = await whenReady(
    () => pca.send(new GetCertificateAuthorityCsrCommand({ CertificateAuthorityArn: arn })),
    () => waitUntilCertificateAuthorityCSRCreated(waiter, { CertificateAuthorityArn: arn }),
  ).catch(fail('GetCertificateAuthorityCsr', made));
  if (!csr?.Csr) throw new CliError('UnexpectedResponseError', `Private CA returned no CSR. ${made}`);

  progress('issuing the CA certificate (RootCACertificate/V1)');
  const issued = await pca
    .send(
      new IssueCertificateCommand({
        CertificateAuthorityArn: arn,
        Csr: Buffer.from(csr.Csr, 'utf8'),
        SigningAlgorithm: signingAlgorithm,
        TemplateArn: ROOT_CA_TEMPLATE,
        Validity: { Type: 'DAYS', Value: request.days },
        IdempotencyToken: randomBytes(8).toString('hex'),
      }),
    )
    .catch(fail('IssueCertificate', made));
  const certificateArn = issued.CertificateArn;
  if (!certificateArn) throw new CliError('UnexpectedResponseError', `Private CA issued no certificate. ${made}`);
  const certificate = await whenReady(
    () => pca.send(new GetCertificateCommand({ CertificateAuthorityArn: arn, CertificateArn: certificateArn })),
    () => waitUntilCertificateIssued(waiter, { CertificateAuthorityArn: arn, CertificateArn: certificateArn }),
  ).catch(fail('GetCertificate', made));
  if (!certificate?.Certificate)
    throw new CliError('UnexpectedResponseError', `Private CA returned no certificate. ${made}`);

  progress('installing it as the CA certificate');
  await pca
    .send(
      new ImportCertificateAuthorityCertificateCommand({
        CertificateAuthorityArn: arn,
        Certificate: Buffer.from(certificate.Certificate, 'utf8'),
      }),
    )
    .catch(fail('ImportCertificateAuthorityCertificate', made));
  // What the pipeline compares the dropped file with: the CA's certificate as Private CA holds it.
  const installed = await pca
    .send(new GetCertificateAuthorityCertificateCommand({ CertificateAuthorityArn: arn }))
    .catch(fail('GetCertificateAuthorityCertificate', made));
  const pem = text(installed.Certificate);
  if (!pem.includes('BEGIN CERTIFICATE'))
    throw new CliError('UnexpectedResponseError', `Private CA returned no CA certificate. ${made}`);
  return { pem, signer: `pca:${arn}`, holds: 'key held by AWS Private CA', made };
};
