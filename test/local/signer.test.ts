/**
 * Signer CAs end to end on the embedded stack: a CA whose key lives in the local KMS (made through
 * the SDK, its certificate self-signed by KMS Sign with the pipeline's builder), dropped with
 * `signer` metadata and no verification certificate, ends ACTIVE in DEFAULT mode; a wrong key is a
 * named failure; reconciliation re-registers a signer CA from its object alone; a root CA made in
 * the local Private CA ends ACTIVE the same way; and the local IAM (serverless.yml's SignVerification
 * role) denies keys outside `signerKmsKeyArn`.
 */
import { describe, expect, it } from 'vitest';
import {
  DeleteCACertificateCommand,
  DescribeCACertificateCommand,
  UpdateCACertificateCommand,
} from '@aws-sdk/client-iot';
import { CreateAliasCommand, CreateKeyCommand, GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import {
  ACMPCAClient,
  CreateCertificateAuthorityCommand,
  GetCertificateAuthorityCsrCommand,
  GetCertificateCommand,
  ImportCertificateAuthorityCertificateCommand,
  IssueCertificateCommand,
  waitUntilCertificateIssued,
} from '@aws-sdk/client-acm-pca';
import { buildCertificate, type KmsSigningAlgorithm } from '../../functions/core/x509-build.ts';
import { inspectCaFile } from '../../functions/core/certificate.ts';
import { useLocalStack } from '../fixtures/stack.ts';

const DAY = 86_400_000;

/** A KMS key under an alias, and a CA certificate self-signed by it through KMS Sign. */
const kmsCa = async (
  kms: KMSClient,
  alias: string,
  keySpec: 'ECC_NIST_P256' | 'ECC_NIST_P384' | 'RSA_2048' | 'RSA_3072',
  signingAlgorithm: KmsSigningAlgorithm,
) => {
  const key = await kms.send(new CreateKeyCommand({ KeySpec: keySpec, KeyUsage: 'SIGN_VERIFY' }));
  const keyId = key.KeyMetadata?.KeyId as string;
  await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
  const { PublicKey } = await kms.send(new GetPublicKeyCommand({ KeyId: alias }));
  const name = [
    { type: 'CN', value: `Signer CA ${alias}` },
    { type: 'O', value: 'iot-ca-pipeline tests' },
  ];
  const now = Date.now();
  const ca = await buildCertificate(
    {
      issuer: name,
      subject: name,
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + 365 * DAY),
      publicKey: PublicKey as Uint8Array,
      extensions: {
        basicConstraints: { ca: true },
        keyUsage: ['keyCertSign', 'cRLSign'],
        subjectKeyIdentifier: 'hash',
      },
      signingAlgorithm,
    },
    async (tbs) =>
      (
        await kms.send(
          new SignCommand({ KeyId: alias, Message: tbs, MessageType: 'RAW', SigningAlgorithm: signingAlgorithm }),
        )
      ).Signature as Uint8Array,
  );
  return { ...ca, keyArn: key.KeyMetadata?.Arn as string, certificateId: inspectCaFile(ca.pem).certificateId };
};

describe('a CA whose key is in KMS', () => {
  const local = useLocalStack({ params: { reconcileGraceMinutes: '0' } });
  const kms = () => new KMSClient({});

  it.each([
    ['ECC_NIST_P256', 'ECDSA_SHA_256'],
    ['RSA_3072', 'RSASSA_PKCS1_V1_5_SHA_256'],
  ] as const)(
    '%s: dropped with signer metadata and no verification certificate, ends ACTIVE in DEFAULT mode',
    async (spec, algorithm) => {
      const alias = `alias/iot-ca-e2e-${spec.toLowerCase()}`;
      const ca = await kmsCa(kms(), alias, spec, algorithm);
      const key = `incoming/kms-${spec}.pem`;
      await local.put(key, ca.pem, { signer: `kms:${alias}` });
      await local.settle();
      const receipt = await local.resultOf(key);
      expect(receipt).toMatchObject({
        outcome: 'ACTIVE',
        certificateId: ca.certificateId,
        certificateMode: 'DEFAULT',
        ownership: { method: 'kms', signer: `kms:${alias}` },
      });
      const { certificateDescription } = await local.iot.send(
        new DescribeCACertificateCommand({ certificateId: ca.certificateId }),
      );
      expect(certificateDescription).toMatchObject({ status: 'ACTIVE', certificateMode: 'DEFAULT' });
      expect(JSON.stringify(receipt)).not.toMatch(/PRIVATE KEY/);
    },
  );

  it('a signer whose key is not the CA’s fails with SignerKeyMismatchError and registers nothing', async () => {
    const ca = await kmsCa(kms(), 'alias/iot-ca-e2e-real', 'ECC_NIST_P256', 'ECDSA_SHA_256');
    await kmsCa(kms(), 'alias/iot-ca-e2e-other', 'ECC_NIST_P256', 'ECDSA_SHA_256');
    await local.put('incoming/kms-mismatch.pem', ca.pem, { signer: 'kms:alias/iot-ca-e2e-other' });
    await local.settle();
    const report = await local.resultOf('incoming/kms-mismatch.pem');
    expect(report).toMatchObject({ outcome: 'FAILED', error: { name: 'SignerKeyMismatchError', transient: false } });
    await expect(
      local.iot.send(new DescribeCACertificateCommand({ certificateId: ca.certificateId })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('a signer value that is no signer fails with InvalidOptionsError before anything is asked', async () => {
    const ca = await kmsCa(kms(), 'alias/iot-ca-e2e-typo', 'ECC_NIST_P256', 'ECDSA_SHA_256');
    await local.put('incoming/kms-typo.pem', ca.pem, { signer: 'kms-alias/iot-ca-e2e-typo' });
    await local.settle();
    expect(await local.resultOf('incoming/kms-typo.pem')).toMatchObject({
      outcome: 'FAILED',
      error: { name: 'InvalidOptionsError', remedy: expect.stringContaining('signer') },
    });
  });

  it('reconciliation re-registers a signer CA deleted from IoT, from its object and metadata alone', async () => {
    const ca = await kmsCa(kms(), 'alias/iot-ca-e2e-reconcile', 'ECC_NIST_P384', 'ECDSA_SHA_384');
    const key = 'incoming/kms-reconcile.pem';
    await local.put(key, ca.pem, { signer: 'kms:alias/iot-ca-e2e-reconcile' });
    await local.settle();
    expect((await local.resultOf(key)).outcome).toBe('ACTIVE');
    await local.iot.send(new UpdateCACertificateCommand({ certificateId: ca.certificateId, newStatus: 'INACTIVE' }));
    await local.iot.send(new DeleteCACertificateCommand({ certificateId: ca.certificateId }));
    const { done } = local.stack.reconcileEngine.start({ bucket: local.stack.bucket, deep: false });
    await done;
    await local.settle();
    const { certificateDescription } = await local.iot.send(
      new DescribeCACertificateCommand({ certificateId: ca.certificateId }),
    );
    expect(certificateDescription).toMatchObject({ status: 'ACTIVE', certificateMode: 'DEFAULT' });
    expect(await local.resultOf(key)).toMatchObject({ outcome: 'ACTIVE', ownership: { method: 'kms' } });
  });
});

/** AWS's path to a root CA in Private CA: create, its CSR issued by itself, imported, ACTIVE. */
const pcaRoot = async (pca: ACMPCAClient, keyAlgorithm: 'EC_prime256v1' | 'RSA_2048', signing: string) => {
  const { CertificateAuthorityArn: arn } = await pca.send(
    new CreateCertificateAuthorityCommand({
      CertificateAuthorityType: 'ROOT',
      CertificateAuthorityConfiguration: {
        KeyAlgorithm: keyAlgorithm,
        SigningAlgorithm: signing as never,
        Subject: { Organization: 'iot-ca-pipeline tests', CommonName: `Private CA ${keyAlgorithm}` },
      },
    }),
  );
  const { Csr } = await pca.send(new GetCertificateAuthorityCsrCommand({ CertificateAuthorityArn: arn }));
  const { CertificateArn } = await pca.send(
    new IssueCertificateCommand({
      CertificateAuthorityArn: arn,
      Csr: Buffer.from(Csr as string),
      SigningAlgorithm: signing as never,
      TemplateArn: 'arn:aws:acm-pca:::template/RootCACertificate/V1',
      Validity: { Type: 'DAYS', Value: 365 },
    }),
  );
  const input = { CertificateAuthorityArn: arn, CertificateArn };
  await waitUntilCertificateIssued({ client: pca, maxWaitTime: 20, minDelay: 1, maxDelay: 1 }, input);
  const { Certificate } = await pca.send(new GetCertificateCommand(input));
  await pca.send(
    new ImportCertificateAuthorityCertificateCommand({
      CertificateAuthorityArn: arn,
      Certificate: Buffer.from(Certificate as string),
    }),
  );
  return {
    arn: arn as string,
    pem: Certificate as string,
    certificateId: inspectCaFile(Certificate as string).certificateId,
  };
};

describe('a CA held by AWS Private CA', () => {
  const local = useLocalStack();

  it.each([
    ['EC_prime256v1', 'SHA256WITHECDSA'],
    ['RSA_2048', 'SHA256WITHRSA'],
  ] as const)(
    '%s: dropped with a pca: signer and no verification certificate, ends ACTIVE in DEFAULT mode',
    async (keyAlgorithm, signing) => {
      const root = await pcaRoot(new ACMPCAClient({}), keyAlgorithm, signing);
      const key = `incoming/pca-${keyAlgorithm}.pem`;
      await local.put(key, root.pem, { signer: `pca:${root.arn}` });
      await local.settle();
      expect(await local.resultOf(key)).toMatchObject({
        outcome: 'ACTIVE',
        certificateId: root.certificateId,
        certificateMode: 'DEFAULT',
        ownership: { method: 'pca', signer: `pca:${root.arn}` },
      });
      const { certificateDescription } = await local.iot.send(
        new DescribeCACertificateCommand({ certificateId: root.certificateId }),
      );
      expect(certificateDescription).toMatchObject({ status: 'ACTIVE', certificateMode: 'DEFAULT' });
    },
  );

  it('a Private CA whose certificate is not the uploaded CA fails with SignerKeyMismatchError', async () => {
    const pca = new ACMPCAClient({});
    const root = await pcaRoot(pca, 'EC_prime256v1', 'SHA256WITHECDSA');
    const other = await pcaRoot(pca, 'EC_prime256v1', 'SHA256WITHECDSA');
    await local.put('incoming/pca-mismatch.pem', other.pem, { signer: `pca:${root.arn}` });
    await local.settle();
    expect(await local.resultOf('incoming/pca-mismatch.pem')).toMatchObject({
      outcome: 'FAILED',
      error: { name: 'SignerKeyMismatchError', transient: false },
    });
  });
});

describe('a KMS key outside the deployment’s signerKmsKeyArn', () => {
  const local = useLocalStack({ params: { signerKmsKeyArn: 'arn:aws:kms:*:000000000000:key/none' } });

  it('is denied to SignVerification by the local IAM: SignerAccessDeniedError, nothing registered', async () => {
    const ca = await kmsCa(new KMSClient({}), 'alias/iot-ca-e2e-denied', 'ECC_NIST_P256', 'ECDSA_SHA_256');
    await local.put('incoming/kms-denied.pem', ca.pem, { signer: 'kms:alias/iot-ca-e2e-denied' });
    await local.settle();
    expect(await local.resultOf('incoming/kms-denied.pem')).toMatchObject({
      outcome: 'FAILED',
      error: { name: 'SignerAccessDeniedError', remedy: expect.stringContaining('signerKmsKeyArn') },
    });
    await expect(
      local.iot.send(new DescribeCACertificateCommand({ certificateId: ca.certificateId })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});

describe('the deployment’s defaultSigner', () => {
  const local = useLocalStack({ params: { defaultSigner: 'kms:alias/iot-ca-e2e-default' } });

  it('signs for a DEFAULT CA whose metadata names none, and is ignored for an SNI_ONLY CA', async () => {
    const ca = await kmsCa(new KMSClient({}), 'alias/iot-ca-e2e-default', 'ECC_NIST_P256', 'ECDSA_SHA_256');
    await local.put('incoming/default-signer.pem', ca.pem);
    const sni = await kmsCa(new KMSClient({}), 'alias/iot-ca-e2e-sni', 'ECC_NIST_P256', 'ECDSA_SHA_256');
    await local.put('incoming/sni.pem', sni.pem, { 'certificate-mode': 'SNI_ONLY' });
    await local.settle();
    expect(await local.resultOf('incoming/default-signer.pem')).toMatchObject({
      outcome: 'ACTIVE',
      certificateMode: 'DEFAULT',
      ownership: { method: 'kms', signer: 'kms:alias/iot-ca-e2e-default' },
    });
    expect(await local.resultOf('incoming/sni.pem')).toMatchObject({
      outcome: 'ACTIVE',
      certificateMode: 'SNI_ONLY',
      ownership: { method: 'none' },
    });
  });
});
