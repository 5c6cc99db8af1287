/**
 * Signer CAs end to end on the embedded stack: a CA whose key lives in the local KMS (made through
 * the SDK, its certificate self-signed by KMS Sign with the pipeline's builder), dropped with
 * `signer` metadata and no verification certificate, ends ACTIVE in DEFAULT mode; a wrong key is a
 * named failure; reconciliation re-registers a signer CA from its object alone; and the local IAM
 * (serverless.yml's VerifyOwnership role) denies keys outside `signerKmsKeyArn`.
 */
import { describe, expect, it } from 'vitest';
import {
  DeleteCACertificateCommand,
  DescribeCACertificateCommand,
  UpdateCACertificateCommand,
} from '@aws-sdk/client-iot';
import { CreateAliasCommand, CreateKeyCommand, GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
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

describe('a KMS key outside the deployment’s signerKmsKeyArn', () => {
  const local = useLocalStack({ params: { signerKmsKeyArn: 'arn:aws:kms:*:000000000000:key/none' } });

  it('is denied to VerifyOwnership by the local IAM: SignerAccessDeniedError, nothing registered', async () => {
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
