/**
 * Verification certificates signed by a CA key the pipeline never holds: AWS KMS (Sign over the
 * TBSCertificate this function builds) or AWS Private CA (IssueCertificate from a CSR). Only the
 * SignVerification function bundles it, so the KMS and Private CA clients and the certificate
 * builder cost nothing to flows without a signer (ADR 0024).
 *
 * Nothing private leaves memory: the verification certificate's own key pair is made here, used to
 * sign the CSR (Private CA) or not at all (KMS), and dropped; the CA key stays in its service.
 */
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { GetPublicKeyCommand, KMSClient, MessageType, SignCommand } from '@aws-sdk/client-kms';
import {
  ACMPCAClient,
  GetCertificateAuthorityCertificateCommand,
  GetCertificateCommand,
  IssueCertificateCommand,
  waitUntilCertificateIssued,
} from '@aws-sdk/client-acm-pca';
import { awsCall, awsErrorName, SDK_MAX_ATTEMPTS } from './sdk-errors.ts';
import { PipelineError, isPipelineError } from '../core/errors.ts';
import { parseCertificate } from '../core/certificate.ts';
import { parsePemBlocks } from '../core/pem.ts';
import {
  chooseKmsAlgorithm,
  choosePcaAlgorithm,
  KMS_MAX_RAW_MESSAGE,
  PCA_END_ENTITY_TEMPLATE,
  type PcaSigningAlgorithm,
  type SignerSpec,
  verificationValidity,
} from '../core/signer.ts';
import {
  buildCertificate,
  buildCsr,
  hashOf,
  type KmsSigningAlgorithm,
  nodeSigner,
  type Signer,
  subjectKeyIdentifierOf,
  subjectNameOf,
  spkiOf,
} from '../core/x509-build.ts';

export interface SignerClients {
  kms: () => KMSClient;
  pca: () => ACMPCAClient;
  /** How long to wait for Private CA to issue (default PCA_MAX_WAIT_SECONDS). */
  pcaWaitSeconds?: number;
}

/** One client per service, made on first use and kept for the function's lifetime. */
export const createSignerClients = (): SignerClients => {
  let kms: KMSClient | undefined;
  let pca: ACMPCAClient | undefined;
  return {
    kms: () => {
      kms ??= new KMSClient({ maxAttempts: SDK_MAX_ATTEMPTS });
      return kms;
    },
    pca: () => {
      pca ??= new ACMPCAClient({ maxAttempts: SDK_MAX_ATTEMPTS });
      return pca;
    },
  };
};

export interface SignRequest {
  signer: SignerSpec;
  caPem: string;
  registrationCode: string;
  now: Date;
  /** Private CA's IdempotencyToken is derived from it (with the CA and the code): a retry reuses the issue. */
  certificateId: string;
}

export interface SignedVerification {
  verificationPem: string;
  /** The algorithm the signer used, as its service names it. */
  signingAlgorithm: string;
}

const NOT_FOUND = new Set(['NotFoundException', 'ResourceNotFoundException']);
const DISABLED = new Set(['DisabledException', 'KMSInvalidStateException', 'InvalidStateException']);
const UNSUPPORTED = new Set(['InvalidKeyUsageException', 'UnsupportedOperationException']);
const DENIED = new Set(['AccessDeniedException', 'AccessDenied']);

const GRANT =
  'the VerifyOwnership role (serverless.yml params signerKmsKeyArn / signerPcaAuthorityArn) and the key policy or CA policy';

/**
 * One signer call, its failures named: the transient ones as awsCall names them (throttling is
 * retried like IoT's), the rest by what the operator must fix.
 */
const signerCall = async <T>(signer: SignerSpec, operation: string, call: () => Promise<T>): Promise<T> => {
  const who = signer.value;
  try {
    return await awsCall(operation, call);
  } catch (error) {
    if (isPipelineError(error) && error.name !== 'AccessDeniedError') throw error;
    const name = awsErrorName(isPipelineError(error) ? error.cause : error) ?? '';
    const message = (error as Error).message ?? '';
    if (isPipelineError(error, 'AccessDeniedError') || DENIED.has(name)) {
      throw new PipelineError('SignerAccessDeniedError', `${operation} on ${who} was denied: allow it in ${GRANT}.`, {
        cause: error,
      });
    }
    if (NOT_FOUND.has(name))
      throw new PipelineError(
        'SignerNotFoundError',
        `${operation}: ${who} does not exist in this account and Region.`,
        {
          cause: error,
        },
      );
    if (DISABLED.has(name))
      throw new PipelineError('SignerDisabledError', `${operation}: ${who} cannot sign now (${name}: ${message}).`, {
        cause: error,
      });
    if (UNSUPPORTED.has(name))
      throw new PipelineError('UnsupportedSignerKeyError', `${operation}: ${who} cannot sign (${name}: ${message}).`, {
        cause: error,
      });
    throw error;
  }
};

const caDer = (caPem: string): Uint8Array => (parsePemBlocks(caPem)[0] as { der: Uint8Array }).der;

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

/** The fresh key pair the verification certificate certifies: made here, never stored. */
const throwAwayKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });

const spkiDer = (key: ReturnType<typeof throwAwayKey>['publicKey']): Uint8Array =>
  new Uint8Array(key.export({ type: 'spki', format: 'der' }));

/**
 * A Signer (x509-build.ts) backed by KMS Sign: the message itself up to 4096 bytes (RAW), its
 * digest beyond (DIGEST, hashed here with the algorithm's hash), as KMS's limits require.
 */
export const kmsSigner =
  (kms: KMSClient, signer: SignerSpec, keyId: string, algorithm: KmsSigningAlgorithm): Signer =>
  async (toBeSigned) => {
    const raw = toBeSigned.length <= KMS_MAX_RAW_MESSAGE;
    const message = raw ? toBeSigned : new Uint8Array(createHash(hashOf(algorithm)).update(toBeSigned).digest());
    const signed = await signerCall(signer, 'kms:Sign', () =>
      kms.send(
        new SignCommand({
          KeyId: keyId,
          Message: message,
          MessageType: raw ? MessageType.RAW : MessageType.DIGEST,
          SigningAlgorithm: algorithm,
        }),
      ),
    );
    if (!signed.Signature) throw new PipelineError('ServiceFaultError', 'kms:Sign returned no signature.');
    return signed.Signature;
  };

/** A KMS key checked to hold a CA's key: the algorithm its spec and the CA take, and a Signer over it. */
export interface KmsCaKey {
  keyId: string;
  algorithm: KmsSigningAlgorithm;
  sign: Signer;
}

/**
 * GetPublicKey must be the CA certificate's public key (else SignerKeyMismatchError); the signing
 * algorithm is chosen from the key spec and the CA's own signature (chooseKmsAlgorithm).
 */
export const kmsCaKey = async (kms: KMSClient, signer: SignerSpec, caCertificateDer: Uint8Array): Promise<KmsCaKey> => {
  if (signer.kind !== 'kms') throw new TypeError('kmsCaKey takes a kms: signer');
  const ca = parseCertificate({ label: 'CERTIFICATE', der: caCertificateDer }, 'CA certificate');
  const key = await signerCall(signer, 'kms:GetPublicKey', () =>
    kms.send(new GetPublicKeyCommand({ KeyId: signer.keyId })),
  );
  if (!key.PublicKey || !sameBytes(key.PublicKey, spkiOf(caCertificateDer))) {
    throw new PipelineError(
      'SignerKeyMismatchError',
      `The public key of ${signer.value} is not the CA certificate's public key: this key did not issue this CA.`,
    );
  }
  const algorithm = chooseKmsAlgorithm(
    { keySpec: key.KeySpec, keyUsage: key.KeyUsage, signingAlgorithms: key.SigningAlgorithms ?? [] },
    ca,
  );
  const keyId = key.KeyId ?? signer.keyId;
  return { keyId, algorithm, sign: kmsSigner(kms, signer, keyId, algorithm) };
};

/** KMS: GetPublicKey must be the CA's key; then Sign over the TBSCertificate built here. */
export const signWithKms = async (kms: KMSClient, request: SignRequest): Promise<SignedVerification> => {
  const { signer } = request;
  if (signer.kind !== 'kms') throw new TypeError('signWithKms takes a kms: signer');
  const der = caDer(request.caPem);
  const key = await kmsCaKey(kms, signer, der);
  const fresh = throwAwayKey();
  const authorityKeyIdentifier = subjectKeyIdentifierOf(der);
  const built = await buildCertificate(
    {
      issuer: subjectNameOf(der),
      subject: [{ type: 'CN', value: request.registrationCode }],
      ...verificationValidity(request.now),
      publicKey: spkiDer(fresh.publicKey),
      extensions: {
        basicConstraints: { ca: false },
        keyUsage: ['digitalSignature'],
        ...(authorityKeyIdentifier ? { authorityKeyIdentifier } : {}),
      },
      signingAlgorithm: key.algorithm,
    },
    key.sign,
  );
  return { verificationPem: built.pem, signingAlgorithm: key.algorithm };
};

/** How long IssueCertificate may take before the flow's retry asks again (the Lambda has 25 s). */
export const PCA_MAX_WAIT_SECONDS = 15;

/**
 * Private CA: GetCertificateAuthorityCertificate must be the CA certificate (else
 * SignerKeyMismatchError); answers the algorithm the CA signs with (choosePcaAlgorithm).
 */
export const pcaCaAlgorithm = async (
  pca: ACMPCAClient,
  signer: SignerSpec,
  caCertificateDer: Uint8Array,
): Promise<PcaSigningAlgorithm> => {
  if (signer.kind !== 'pca') throw new TypeError('pcaCaAlgorithm takes a pca: signer');
  const authority = await signerCall(signer, 'acm-pca:GetCertificateAuthorityCertificate', () =>
    pca.send(new GetCertificateAuthorityCertificateCommand({ CertificateAuthorityArn: signer.authorityArn })),
  );
  const authorityDer = authority.Certificate ? parsePemBlocks(authority.Certificate)[0]?.der : undefined;
  if (!authorityDer || !sameBytes(authorityDer, caCertificateDer)) {
    throw new PipelineError(
      'SignerKeyMismatchError',
      `The certificate of ${signer.value} is not the CA certificate uploaded: that Private CA did not make this CA.`,
    );
  }
  const caKey = new X509Certificate(caCertificateDer).publicKey;
  return choosePcaAlgorithm({ type: caKey.asymmetricKeyType, namedCurve: caKey.asymmetricKeyDetails?.namedCurve });
};

export interface PcaIssueRequest {
  csrPem: string;
  signingAlgorithm: PcaSigningAlgorithm;
  validityDays: number;
  idempotencyToken: string;
  /** How long to wait for the certificate before a ServiceFaultError. */
  waitSeconds: number;
}

/**
 * IssueCertificate from a CSR with the end-entity template, then GetCertificate once issued (the
 * SDK's waiter, bounded; one last call names what went wrong). Answers the certificate's PEM.
 */
export const issueWithPca = async (
  pca: ACMPCAClient,
  signer: SignerSpec,
  request: PcaIssueRequest,
): Promise<string> => {
  if (signer.kind !== 'pca') throw new TypeError('issueWithPca takes a pca: signer');
  const { waitSeconds } = request;
  const issued = await signerCall(signer, 'acm-pca:IssueCertificate', () =>
    pca.send(
      new IssueCertificateCommand({
        CertificateAuthorityArn: signer.authorityArn,
        Csr: new TextEncoder().encode(request.csrPem),
        SigningAlgorithm: request.signingAlgorithm,
        TemplateArn: PCA_END_ENTITY_TEMPLATE,
        Validity: { Type: 'DAYS', Value: request.validityDays },
        IdempotencyToken: request.idempotencyToken,
      }),
    ),
  );
  if (!issued.CertificateArn) throw new PipelineError('ServiceFaultError', 'acm-pca:IssueCertificate returned no ARN.');
  const input = { CertificateAuthorityArn: signer.authorityArn, CertificateArn: issued.CertificateArn };
  // The SDK's waiter polls GetCertificate while it answers RequestInProgressException (and, as
  // written, on any other error too): bounded here, then one last call names what went wrong.
  const waited = await waitUntilCertificateIssued(
    { client: pca, maxWaitTime: waitSeconds, minDelay: 1, maxDelay: 3 },
    input,
  ).catch(() => undefined);
  let pem = (waited?.reason as { Certificate?: string } | undefined)?.Certificate;
  if (!pem) {
    const last = await signerCall(signer, 'acm-pca:GetCertificate', () =>
      pca.send(new GetCertificateCommand(input)),
    ).catch((error: unknown) => {
      if (awsErrorName(error) === 'RequestInProgressException') {
        throw new PipelineError(
          'ServiceFaultError',
          `acm-pca: ${issued.CertificateArn} was not issued within ${waitSeconds} s; the flow asks again.`,
          { cause: error },
        );
      }
      throw error;
    });
    pem = last.Certificate;
  }
  if (!pem) throw new PipelineError('ServiceFaultError', 'acm-pca:GetCertificate returned no certificate.');
  return pem;
};

/**
 * Private CA: its certificate must be the CA's; then IssueCertificate from a CSR for the code and
 * GetCertificate once issued (the SDK's waiter, bounded). The IdempotencyToken makes a retried
 * flow collect the certificate issued before instead of issuing a second one.
 */
export const signWithPca = async (
  pca: ACMPCAClient,
  request: SignRequest,
  waitSeconds = PCA_MAX_WAIT_SECONDS,
): Promise<SignedVerification> => {
  const { signer } = request;
  if (signer.kind !== 'pca') throw new TypeError('signWithPca takes a pca: signer');
  const signingAlgorithm = await pcaCaAlgorithm(pca, signer, caDer(request.caPem));
  const fresh = throwAwayKey();
  const csr = await buildCsr(
    {
      subject: [{ type: 'CN', value: request.registrationCode }],
      publicKey: spkiDer(fresh.publicKey),
      signingAlgorithm: 'ECDSA_SHA_256',
    },
    nodeSigner(fresh.privateKey, 'ECDSA_SHA_256'),
  );
  const idempotencyToken = createHash('sha256')
    .update(`${signer.authorityArn}\n${request.certificateId}\n${request.registrationCode}`)
    .digest('hex')
    .slice(0, 36);
  const verificationPem = await issueWithPca(pca, signer, {
    csrPem: csr.pem,
    signingAlgorithm,
    validityDays: 1,
    idempotencyToken,
    waitSeconds,
  });
  return { verificationPem, signingAlgorithm };
};

/** Has the signer named sign a verification certificate for the registration code. */
export const signVerification = (clients: SignerClients, request: SignRequest): Promise<SignedVerification> =>
  request.signer.kind === 'kms'
    ? signWithKms(clients.kms(), request)
    : signWithPca(clients.pca(), request, clients.pcaWaitSeconds);
