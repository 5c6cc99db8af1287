/**
 * SignVerification then VerifyOwnership, as the state machine runs them for a signer CA: the
 * verification certificate made by AWS KMS (simulated by
 * node:crypto keys behind aws-sdk-client-mock) or AWS Private CA (simulated by a node:crypto CA),
 * checked by openssl, and every way a signer can be wrong named.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFileSync } from 'node:child_process';
import { constants, createHash, KeyObject, sign as nodeSign, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetRegistrationCodeCommand, IoTClient } from '@aws-sdk/client-iot';
import { GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import {
  ACMPCAClient,
  GetCertificateAuthorityCertificateCommand,
  GetCertificateCommand,
  IssueCertificateCommand,
} from '@aws-sdk/client-acm-pca';
import { mockClient } from 'aws-sdk-client-mock';
import { verifyOwnership } from '../../functions/verify-ownership.ts';
import { signVerification } from '../../functions/sign-verification.ts';
import { kmsSigner, type SignerClients } from '../../functions/aws/signer.ts';
import { inspectCaFile } from '../../functions/core/certificate.ts';
import { buildReceipt } from '../../functions/core/results.ts';
import { parseSigner } from '../../functions/core/signer.ts';
import { logger } from '../../functions/lambda/logger.ts';
import type { LoadedCertificate } from '../../functions/core/schemas.ts';
import { awsError } from '../fixtures/aws.ts';
import { type KeySpec, makeCa, P256, REGISTRATION_CODE, RSA2048, type Pki } from '../fixtures/pki.ts';

const KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const ALIAS = 'alias/iot-ca-root';
const PCA_ARN = 'arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/11111111-2222-3333-4444-555555555555';

const RSA_ALGORITHMS = [
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
];
const KEY_SPECS: Array<{ name: string; spec: KeySpec; kms: string; algorithms: string[]; expected: string }> = [
  {
    name: 'RSA 2048',
    spec: RSA2048,
    kms: 'RSA_2048',
    algorithms: RSA_ALGORITHMS,
    expected: 'RSASSA_PKCS1_V1_5_SHA_256',
  },
  {
    name: 'RSA 3072',
    spec: { type: 'rsa', bits: 3072 },
    kms: 'RSA_3072',
    algorithms: RSA_ALGORITHMS,
    expected: 'RSASSA_PKCS1_V1_5_SHA_256',
  },
  {
    name: 'RSA 2048 with a PSS-signed CA',
    spec: { type: 'rsa-pss', bits: 2048 },
    kms: 'RSA_2048',
    algorithms: RSA_ALGORITHMS,
    expected: 'RSASSA_PSS_SHA_256',
  },
  { name: 'EC P-256', spec: P256, kms: 'ECC_NIST_P256', algorithms: ['ECDSA_SHA_256'], expected: 'ECDSA_SHA_256' },
  {
    name: 'EC P-384',
    spec: { type: 'ec', curve: 'P-384' },
    kms: 'ECC_NIST_P384',
    algorithms: ['ECDSA_SHA_384'],
    expected: 'ECDSA_SHA_384',
  },
];

const HASH: Record<string, string> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };

/** KMS Sign as the service does it, written apart from the pipeline's nodeSigner. */
const kmsSign = (key: KeyObject, algorithm: string, message: Uint8Array): Uint8Array => {
  const hash = HASH[algorithm.slice(-3)] as string;
  if (algorithm.startsWith('ECDSA')) return nodeSign(hash, message, { key, dsaEncoding: 'der' });
  if (algorithm.startsWith('RSASSA_PSS'))
    return nodeSign(hash, message, {
      key,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: Number(algorithm.slice(-3)) / 8,
    });
  return nodeSign(hash, message, { key, padding: constants.RSA_PKCS1_PADDING });
};

interface SimulatedKey {
  ca: Pki;
  privateKey: KeyObject;
  spki: Uint8Array;
  keySpec: string;
  algorithms: string[];
}

const iotMock = mockClient(IoTClient);
const kmsMock = mockClient(KMSClient);
const pcaMock = mockClient(ACMPCAClient);
const iot = new IoTClient({});
const kms = new KMSClient({ region: 'us-east-1' });
const pca = new ACMPCAClient({ region: 'us-east-1' });

/** A KMS holding one key under its ARN and an alias; records what it was asked to sign. */
const simulateKms = (key: SimulatedKey, options: { keyUsage?: string } = {}) => {
  const signed: Array<{ MessageType?: string; SigningAlgorithm?: string; length: number }> = [];
  const known = (id: string | undefined) => id === KEY_ARN || id === ALIAS || id === KEY_ARN.split('/')[1];
  kmsMock.on(GetPublicKeyCommand).callsFake((input: { KeyId?: string }) => {
    if (!known(input.KeyId)) throw awsError('NotFoundException', 400);
    return {
      KeyId: KEY_ARN,
      PublicKey: key.spki,
      KeySpec: key.keySpec,
      KeyUsage: options.keyUsage ?? 'SIGN_VERIFY',
      SigningAlgorithms: key.algorithms,
    };
  });
  kmsMock
    .on(SignCommand)
    .callsFake((input: { KeyId?: string; Message: Uint8Array; MessageType?: string; SigningAlgorithm: string }) => {
      if (!known(input.KeyId)) throw awsError('NotFoundException', 400);
      if (!key.algorithms.includes(input.SigningAlgorithm)) throw awsError('InvalidKeyUsageException', 400);
      if (input.MessageType !== 'RAW') throw new Error('this fake signs RAW messages only');
      signed.push({
        SigningAlgorithm: input.SigningAlgorithm,
        length: input.Message.length,
        ...(input.MessageType ? { MessageType: input.MessageType } : {}),
      });
      return { KeyId: KEY_ARN, Signature: kmsSign(key.privateKey, input.SigningAlgorithm, input.Message) };
    });
  return signed;
};

const keys = new Map<string, SimulatedKey>();
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'signer-'));
  for (const entry of KEY_SPECS) {
    const ca = await makeCa({ key: entry.spec, fresh: true });
    const privateKey = KeyObject.from(ca.keys.privateKey);
    const spki = new Uint8Array(KeyObject.from(ca.keys.publicKey).export({ type: 'spki', format: 'der' }));
    keys.set(entry.name, { ca, privateKey, spki, keySpec: entry.kms, algorithms: entry.algorithms });
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  iotMock.reset();
  kmsMock.reset();
  pcaMock.reset();
  vi.restoreAllMocks();
});

const loadedFor = (ca: Pki, signer: string | undefined): LoadedCertificate => {
  const inspection = inspectCaFile(ca.pem);
  const spec = signer ? parseSigner(signer, 'test') : undefined;
  return {
    source: { bucket: 'ca-bucket', key: 'incoming/signer.pem' },
    certificateId: inspection.certificateId,
    caPem: inspection.caPem,
    certificateMode: 'DEFAULT',
    templateName: 'fleet-jitp',
    tags: {},
    subject: inspection.subject,
    notAfter: inspection.notAfter,
    warnings: [],
    ownership: spec ? { method: spec.kind, signer: spec.value } : { method: 'verification-certificate' },
  };
};

const opensslVerify = (caPem: string, leafPem: string, name: string): string => {
  const caFile = join(dir, `${name}-ca.pem`);
  const leafFile = join(dir, `${name}-leaf.pem`);
  writeFileSync(caFile, caPem);
  writeFileSync(leafFile, leafPem);
  return execFileSync('/usr/bin/openssl', ['verify', '-CAfile', caFile, leafFile], { encoding: 'utf8' });
};

const clients: SignerClients = { kms: () => kms, pca: () => pca, pcaWaitSeconds: 2 };

/** What the state machine does for a signer CA: SignVerification, its PEM into the certificate, VerifyOwnership. */
const prove = async (certificate: LoadedCertificate) => {
  const verificationPem = await signVerification(iot, clients, { certificate });
  const output = await verifyOwnership(iot, { certificate: { ...certificate, verificationPem } });
  return { ...output, verificationPem };
};

describe('SignVerification with a KMS signer', () => {
  it.each(KEY_SPECS)('$name: signs a verification certificate openssl verifies against the CA', async (entry) => {
    const key = keys.get(entry.name) as SimulatedKey;
    const signed = simulateKms(key);
    iotMock.on(GetRegistrationCodeCommand).resolves({ registrationCode: REGISTRATION_CODE });
    const output = await prove(loadedFor(key.ca, `kms:${ALIAS}`));
    expect(output.ownership).toEqual({ method: 'kms', signer: `kms:${ALIAS}` });
    expect(output.verificationSubject).toBe(`CN=${REGISTRATION_CODE}`);
    expect(signed).toEqual([{ MessageType: 'RAW', SigningAlgorithm: entry.expected, length: expect.any(Number) }]);
    expect(opensslVerify(key.ca.pem, output.verificationPem as string, entry.kms)).toContain(': OK');
    const leaf = new X509Certificate(output.verificationPem as string);
    expect(leaf.ca).toBe(false);
    // A day or less, and the key in it is not the CA's.
    expect(new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime()).toBeLessThanOrEqual(
      24 * 3_600_000 + 5 * 60_000,
    );
    expect(leaf.publicKey.export({ type: 'spki', format: 'der' }).equals(Buffer.from(key.spki))).toBe(false);
  });

  it('refuses a key whose public key is not the CA certificate’s: SignerKeyMismatchError, nothing signed', async () => {
    const other = keys.get('EC P-256') as SimulatedKey;
    const ca = (keys.get('EC P-384') as SimulatedKey).ca;
    const signed = simulateKms(other);
    iotMock.on(GetRegistrationCodeCommand).resolves({ registrationCode: REGISTRATION_CODE });
    await expect(prove(loadedFor(ca, `kms:${KEY_ARN}`))).rejects.toMatchObject({ name: 'SignerKeyMismatchError' });
    expect(signed).toEqual([]);
  });

  it('names a key that does not exist SignerNotFoundError', async () => {
    simulateKms(keys.get('EC P-256') as SimulatedKey);
    iotMock.on(GetRegistrationCodeCommand).resolves({ registrationCode: REGISTRATION_CODE });
    const ca = (keys.get('EC P-256') as SimulatedKey).ca;
    await expect(prove(loadedFor(ca, 'kms:alias/nobody'))).rejects.toMatchObject({
      name: 'SignerNotFoundError',
      message: expect.stringContaining('kms:alias/nobody'),
    });
  });

  it('names a denial SignerAccessDeniedError, pointing at the deployment params', async () => {
    kmsMock.on(GetPublicKeyCommand).rejects(awsError('AccessDeniedException', 400));
    iotMock.on(GetRegistrationCodeCommand).resolves({ registrationCode: REGISTRATION_CODE });
    const ca = (keys.get('EC P-256') as SimulatedKey).ca;
    await expect(prove(loadedFor(ca, `kms:${ALIAS}`))).rejects.toMatchObject({
      name: 'SignerAccessDeniedError',
      message: expect.stringContaining('signerKmsKeyArn'),
    });
  });

  it('names a disabled key SignerDisabledError', async () => {
    const key = keys.get('EC P-256') as SimulatedKey;
    simulateKms(key);
    kmsMock.on(SignCommand).rejects(awsError('DisabledException', 400));
    iotMock.on(GetRegistrationCodeCommand).resolves({ registrationCode: REGISTRATION_CODE });
    await expect(prove(loadedFor(key.ca, `kms:${ALIAS}`))).rejects.toMatchObject({ name: 'SignerDisabledError' });
  });

  it('refuses an encryption-only key and an algorithm the key does not offer: UnsupportedSignerKeyError', async () => {
    const key = keys.get('RSA 2048') as SimulatedKey;
    iotMock.on(GetRegistrationCodeCommand).resolves({ registrationCode: REGISTRATION_CODE });
    simulateKms(key, { keyUsage: 'ENCRYPT_DECRYPT' });
    await expect(prove(loadedFor(key.ca, `kms:${ALIAS}`))).rejects.toMatchObject({
      name: 'UnsupportedSignerKeyError',
      message: expect.stringContaining('SIGN_VERIFY'),
    });
    simulateKms({ ...key, algorithms: ['RSASSA_PSS_SHA_256'] });
    await expect(prove(loadedFor(key.ca, `kms:${ALIAS}`))).rejects.toMatchObject({
      name: 'UnsupportedSignerKeyError',
      message: expect.stringContaining('RSASSA_PKCS1_V1_5_SHA_256'),
    });
  });

  it('retries throttling: ThrottledError, the name the state machine retries', async () => {
    kmsMock.on(GetPublicKeyCommand).rejects(awsError('ThrottlingException', 400));
    iotMock.on(GetRegistrationCodeCommand).resolves({ registrationCode: REGISTRATION_CODE });
    const ca = (keys.get('EC P-256') as SimulatedKey).ca;
    await expect(prove(loadedFor(ca, `kms:${ALIAS}`))).rejects.toMatchObject({ name: 'ThrottledError' });
  });

  it('signs a message over 4096 bytes by its digest (MessageType DIGEST), as KMS requires', async () => {
    const seen: Array<{ MessageType?: string; Message: Uint8Array }> = [];
    kmsMock.on(SignCommand).callsFake((input: { MessageType?: string; Message: Uint8Array }) => {
      seen.push(input);
      return { Signature: new Uint8Array([1, 2, 3]) };
    });
    const spec = parseSigner(`kms:${ALIAS}`, 'test');
    const sign = kmsSigner(kms, spec, KEY_ARN, 'RSASSA_PSS_SHA_384');
    const big = new Uint8Array(5000).fill(7);
    const small = new Uint8Array(4096).fill(7);
    expect(await sign(big)).toEqual(new Uint8Array([1, 2, 3]));
    await sign(small);
    expect(seen[0]?.MessageType).toBe('DIGEST');
    expect(Buffer.from(seen[0]?.Message as Uint8Array)).toEqual(createHash('sha384').update(big).digest());
    expect(seen[1]?.MessageType).toBe('RAW');
    expect(seen[1]?.Message).toHaveLength(4096);
  });

  it('SignVerification refuses to run for a CA that names no signer (a wiring mistake)', async () => {
    const ca = (keys.get('EC P-256') as SimulatedKey).ca;
    await expect(signVerification(iot, clients, { certificate: loadedFor(ca, undefined) })).rejects.toMatchObject({
      name: 'InvalidInputError',
    });
    expect(kmsMock.calls()).toHaveLength(0);
  });

  it('logs and records no key material: no PEM in the logs, the receipt names the signer only', async () => {
    const key = keys.get('RSA 2048') as SimulatedKey;
    simulateKms(key);
    iotMock.on(GetRegistrationCodeCommand).resolves({ registrationCode: REGISTRATION_CODE });
    const lines: string[] = [];
    for (const level of ['debug', 'info', 'warn', 'error'] as const)
      vi.spyOn(logger, level).mockImplementation((...args: unknown[]) => {
        lines.push(JSON.stringify(args));
      });
    const certificate = loadedFor(key.ca, `kms:${ALIAS}`);
    const output = await prove(certificate);
    expect(lines.join('\n')).toContain('kms:alias/iot-ca-root');
    expect(lines.join('\n')).not.toMatch(/BEGIN|PRIVATE/);
    const receipt = buildReceipt(
      { ...certificate, verification: output },
      {
        certificateId: certificate.certificateId,
        certificateArn: 'arn',
        adopted: false,
        configured: true,
        status: 'ACTIVE',
      },
      { finishedAt: new Date().toISOString() },
    );
    expect(receipt.ownership).toEqual({ method: 'kms', signer: 'kms:alias/iot-ca-root' });
    expect(JSON.stringify(receipt)).not.toMatch(/PRIVATE|BEGIN CERTIFICATE-----[\s\S]*BEGIN/);
    expect(JSON.stringify(receipt)).not.toContain(Buffer.from(key.spki).toString('base64').slice(0, 40));
  });
});

// ---- Private CA: a CA whose key stays in the (simulated) service ----

/** A Private CA simulated with the CA's node:crypto key: issues from the CSR as the end-entity template does. */
const simulatePca = async (key: SimulatedKey, options: { inProgress?: number } = {}) => {
  const issued = new Map<string, string>();
  const requests: Array<Record<string, unknown>> = [];
  let pending = options.inProgress ?? 0;
  pcaMock.on(GetCertificateAuthorityCertificateCommand).callsFake((input: { CertificateAuthorityArn?: string }) => {
    if (input.CertificateAuthorityArn !== PCA_ARN) throw awsError('ResourceNotFoundException', 400);
    return { Certificate: key.ca.pem };
  });
  // The issuing itself is done with @peculiar/x509 (the fixture PKI's library), not the pipeline's builder.
  const x509 = await import('@peculiar/x509');
  pcaMock.on(IssueCertificateCommand).callsFake(async (input: Record<string, any>) => {
    requests.push(input);
    const csr = new x509.Pkcs10CertificateRequest(new TextDecoder().decode(input.Csr));
    if (!(await csr.verify())) throw awsError('MalformedCSRException', 400);
    const now = Date.now();
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: createHash('sha256').update(String(input.IdempotencyToken)).digest('hex').slice(0, 16),
      subject: csr.subject,
      issuer: key.ca.certificate.subject,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + Number(input.Validity.Value) * 86_400_000),
      publicKey: await csr.publicKey.export(),
      signingKey: key.ca.keys.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    });
    const arn = `${PCA_ARN}/certificate/${requests.length}`;
    issued.set(arn, certificate.toString('pem'));
    return { CertificateArn: arn };
  });
  pcaMock.on(GetCertificateCommand).callsFake((input: { CertificateArn?: string }) => {
    if (pending-- > 0) throw awsError('RequestInProgressException', 400);
    const pem = issued.get(input.CertificateArn ?? '');
    if (!pem) throw awsError('ResourceNotFoundException', 400);
    return { Certificate: pem, CertificateChain: key.ca.pem };
  });
  return requests;
};

describe('SignVerification with a Private CA signer', () => {
  it('issues the verification certificate from a CSR, waits while in progress, and openssl verifies it', async () => {
    const key = keys.get('EC P-256') as SimulatedKey;
    const requests = await simulatePca(key, { inProgress: 1 });
    iotMock.on(GetRegistrationCodeCommand).resolves({ registrationCode: REGISTRATION_CODE });
    const output = await prove(loadedFor(key.ca, `pca:${PCA_ARN}`));
    expect(output.ownership).toEqual({ method: 'pca', signer: `pca:${PCA_ARN}` });
    expect(opensslVerify(key.ca.pem, output.verificationPem as string, 'pca')).toContain(': OK');
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      CertificateAuthorityArn: PCA_ARN,
      TemplateArn: 'arn:aws:acm-pca:::template/EndEntityCertificate/V1',
      SigningAlgorithm: 'SHA256WITHECDSA',
      Validity: { Type: 'DAYS', Value: 1 },
      IdempotencyToken: expect.stringMatching(/^[0-9a-f]{36}$/),
    });
    expect(pcaMock.commandCalls(GetCertificateCommand).length).toBeGreaterThanOrEqual(2);
  });

  it('gives a retried flow the same IdempotencyToken, so Private CA returns the first issue', async () => {
    const key = keys.get('EC P-256') as SimulatedKey;
    const requests = await simulatePca(key);
    iotMock.on(GetRegistrationCodeCommand).resolves({ registrationCode: REGISTRATION_CODE });
    const certificate = loadedFor(key.ca, `pca:${PCA_ARN}`);
    await prove(certificate);
    await prove(certificate);
    expect(requests[0]?.IdempotencyToken).toBe(requests[1]?.IdempotencyToken);
  });

  it('refuses a Private CA whose certificate is not the uploaded CA: SignerKeyMismatchError, nothing issued', async () => {
    const pcaKey = keys.get('EC P-256') as SimulatedKey;
    const requests = await simulatePca(pcaKey);
    iotMock.on(GetRegistrationCodeCommand).resolves({ registrationCode: REGISTRATION_CODE });
    const otherCa = (keys.get('EC P-384') as SimulatedKey).ca;
    await expect(prove(loadedFor(otherCa, `pca:${PCA_ARN}`))).rejects.toMatchObject({ name: 'SignerKeyMismatchError' });
    expect(requests).toEqual([]);
  });

  it('names a missing authority SignerNotFoundError and one not ACTIVE SignerDisabledError', async () => {
    const key = keys.get('EC P-256') as SimulatedKey;
    await simulatePca(key);
    iotMock.on(GetRegistrationCodeCommand).resolves({ registrationCode: REGISTRATION_CODE });
    const otherArn = PCA_ARN.replace('11111111', '99999999');
    await expect(prove(loadedFor(key.ca, `pca:${otherArn}`))).rejects.toMatchObject({ name: 'SignerNotFoundError' });
    pcaMock.on(IssueCertificateCommand).rejects(awsError('InvalidStateException', 400));
    await expect(prove(loadedFor(key.ca, `pca:${PCA_ARN}`))).rejects.toMatchObject({ name: 'SignerDisabledError' });
  });

  it('a certificate still in progress after the wait is a transient fault the flow retries', async () => {
    const key = keys.get('EC P-256') as SimulatedKey;
    await simulatePca(key, { inProgress: 1_000 });
    iotMock.on(GetRegistrationCodeCommand).resolves({ registrationCode: REGISTRATION_CODE });
    await expect(prove(loadedFor(key.ca, `pca:${PCA_ARN}`))).rejects.toMatchObject({ name: 'ServiceFaultError' });
  });
});

describe('VerifyOwnership without a signer', () => {
  it('still needs a verification certificate: VerificationCertificateMissingError', async () => {
    const ca = (keys.get('EC P-256') as SimulatedKey).ca;
    await expect(verifyOwnership(iot, { certificate: loadedFor(ca, undefined) })).rejects.toMatchObject({
      name: 'VerificationCertificateMissingError',
    });
  });
});
