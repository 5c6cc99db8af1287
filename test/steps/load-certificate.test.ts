import { beforeAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { loadCertificate, type LoadCertificateDeps } from '../../functions/load-certificate.ts';
import { inspectCaFile } from '../../functions/core/certificate.ts';
import { PROVENANCE_TAGS, type Defaults } from '../../functions/core/options.ts';
import { awsError, fakeS3, type FakeObject } from '../fixtures/aws.ts';
import { makeCa, makeLeaf, P256, privateKeyPem, REGISTRATION_CODE, type Pki } from '../fixtures/pki.ts';

const BUCKET = 'ca-bucket';
const defaults: Defaults = { certificateMode: 'DEFAULT', templateName: 'fleet-jitp', tags: { team: 'platform' } };

let ca: Pki;
let verification: Pki;

beforeAll(async () => {
  ca = await makeCa();
  verification = await makeLeaf(ca, `CN=${REGISTRATION_CODE}`);
});

const setup = (objects: Record<string, FakeObject>) => {
  const store = new Map(Object.entries(objects));
  const { client, mock } = fakeS3(store);
  const deps: LoadCertificateDeps = { s3: client, defaults };
  return { deps, mock, store };
};

const load = (deps: LoadCertificateDeps, key: string) => loadCertificate(deps, { input: { bucket: BUCKET, key } });

describe('LoadCertificate', () => {
  it("warns of expiry at the deployment's expiryWarningDays, the threshold reconciliation uses", async () => {
    const soon = await makeCa({ key: P256, notAfter: new Date(Date.now() + 45 * 86_400_000) });
    const { deps } = setup({ 'incoming/soon.pem': { body: soon.pem, metadata: { 'certificate-mode': 'SNI_ONLY' } } });
    expect((await load(deps, 'incoming/soon.pem')).warnings).toEqual([]);
    const warned = await load({ ...deps, expiryWarningDays: 60 }, 'incoming/soon.pem');
    expect(warned.warnings).toEqual([expect.stringMatching(/^The CA certificate expires in 45 days/)]);
  });

  it('loads a DEFAULT CA whose verification certificate follows it in the same file', async () => {
    const { deps } = setup({ 'incoming/a.pem': { body: `${ca.pem}${verification.pem}`, versionId: 'v7' } });
    const loaded = await load(deps, 'incoming/a.pem');
    expect(loaded.certificateId).toBe(inspectCaFile(ca.pem).certificateId);
    expect(loaded.source).toEqual({ bucket: BUCKET, key: 'incoming/a.pem', versionId: 'v7', etag: 'e' });
    expect(loaded.verificationSource).toBe('same-file');
    expect(loaded.certificateMode).toBe('DEFAULT');
    expect(loaded.templateName).toBe('fleet-jitp');
    expect(loaded.tags).toMatchObject({
      team: 'platform',
      [PROVENANCE_TAGS.key]: 'incoming/a.pem',
      [PROVENANCE_TAGS.bucket]: BUCKET,
    });
  });

  it('takes the verification certificate from the sibling object', async () => {
    const { deps } = setup({
      'incoming/a.pem': { body: ca.pem },
      'incoming/a.verification.pem': { body: verification.pem },
    });
    const loaded = await load(deps, 'incoming/a.pem');
    expect(loaded.verificationSource).toBe('sibling');
    expect(loaded.verificationPem).toContain('BEGIN CERTIFICATE');
  });

  it('re-runs the CA when its verification sibling is uploaded later', async () => {
    const { deps } = setup({
      'incoming/a.crt': { body: ca.pem },
      'incoming/a.verification.pem': { body: verification.pem },
    });
    const loaded = await load(deps, 'incoming/a.verification.pem');
    expect(loaded.source.key).toBe('incoming/a.crt');
    expect(loaded.verificationSource).toBe('sibling');
  });

  it('names the missing CA when a verification sibling arrives alone', async () => {
    const { deps } = setup({ 'incoming/a.verification.pem': { body: verification.pem } });
    await expect(load(deps, 'incoming/a.verification.pem')).rejects.toMatchObject({
      name: 'ObjectNotFoundError',
      message: expect.stringContaining('incoming/a.pem or incoming/a.crt'),
    });
  });

  it('reads the options from the object metadata', async () => {
    const { deps } = setup({
      'incoming/a.pem': {
        body: ca.pem,
        metadata: { 'certificate-mode': 'SNI_ONLY', 'template-name': 'other', tags: 'env=prod' },
      },
    });
    const loaded = await load(deps, 'incoming/a.pem');
    expect(loaded).toMatchObject({ certificateMode: 'SNI_ONLY', templateName: 'other' });
    expect(loaded.tags).toMatchObject({ team: 'platform', env: 'prod' });
    expect(loaded.verificationPem).toBeUndefined();
  });

  it('refuses SNI_ONLY with a verification certificate in the file', async () => {
    const { deps } = setup({
      'incoming/a.pem': { body: `${ca.pem}${verification.pem}`, metadata: { 'certificate-mode': 'SNI_ONLY' } },
    });
    await expect(load(deps, 'incoming/a.pem')).rejects.toMatchObject({ name: 'VerificationNotAllowedError' });
  });

  it('refuses DEFAULT without any verification certificate', async () => {
    const { deps } = setup({ 'incoming/a.pem': { body: ca.pem } });
    await expect(load(deps, 'incoming/a.pem')).rejects.toMatchObject({
      name: 'VerificationCertificateMissingError',
      message: expect.stringContaining('incoming/a.verification.pem'),
    });
  });

  describe('with a signer (ADR 0024)', () => {
    const SIGNER = 'kms:alias/iot-ca-root';

    it('plans ownership by the signer when the operator gives no verification certificate', async () => {
      const { deps } = setup({ 'incoming/k.pem': { body: ca.pem, metadata: { signer: SIGNER } } });
      const loaded = await load(deps, 'incoming/k.pem');
      expect(loaded.ownership).toEqual({ method: 'kms', signer: SIGNER });
      expect(loaded.verificationPem).toBeUndefined();
    });

    it("prefers the operator's verification certificate: the signer is not used", async () => {
      const { deps } = setup({
        'incoming/k.pem': { body: `${ca.pem}${verification.pem}`, metadata: { signer: SIGNER } },
      });
      expect((await load(deps, 'incoming/k.pem')).ownership).toEqual({ method: 'verification-certificate' });
    });

    it('takes the deployment default, and ignores it for SNI_ONLY CAs', async () => {
      const signer = { kind: 'pca' as const, authorityArn: 'arn', value: 'pca:arn' };
      const { deps } = setup({
        'incoming/d.pem': { body: ca.pem },
        'incoming/s.pem': { body: ca.pem, metadata: { 'certificate-mode': 'SNI_ONLY' } },
      });
      const withDefault = { ...deps, defaults: { ...defaults, signer } };
      expect((await load(withDefault, 'incoming/d.pem')).ownership).toEqual({ method: 'pca', signer: 'pca:arn' });
      expect((await load(withDefault, 'incoming/s.pem')).ownership).toEqual({ method: 'none' });
    });

    it('refuses a signer with SNI_ONLY and a malformed signer: InvalidOptionsError', async () => {
      const { deps } = setup({
        'incoming/s.pem': { body: ca.pem, metadata: { 'certificate-mode': 'SNI_ONLY', signer: SIGNER } },
        'incoming/m.pem': { body: ca.pem, metadata: { signer: 'kms:' } },
      });
      await expect(load(deps, 'incoming/s.pem')).rejects.toMatchObject({ name: 'InvalidOptionsError' });
      await expect(load(deps, 'incoming/m.pem')).rejects.toMatchObject({
        name: 'InvalidOptionsError',
        message: expect.stringContaining('expected kms:'),
      });
    });
  });

  it('refuses an object over the size limit, reading no more than the limit of it', async () => {
    const { deps, mock } = setup({ 'incoming/big.pem': { body: 'x'.repeat(700_000) } });
    await expect(load(deps, 'incoming/big.pem')).rejects.toMatchObject({
      name: 'ObjectTooLargeError',
      message: expect.stringContaining('700000 bytes'),
    });
    expect(mock).toHaveReceivedCommandWith(GetObjectCommand, { Key: 'incoming/big.pem', Range: 'bytes=0-65540' });
  });

  it('reads the object, its version, ETag and metadata in one GET', async () => {
    const { deps, mock } = setup({
      'incoming/a.pem': { body: ca.pem, versionId: 'v3', metadata: { 'certificate-mode': 'SNI_ONLY' } },
    });
    await load(deps, 'incoming/a.pem');
    expect(mock).toHaveReceivedCommandTimes(GetObjectCommand, 1);
    expect(mock).toHaveReceivedCommandTimes(HeadObjectCommand, 0);
  });

  it('reports an object deleted after upload as ObjectNotFoundError', async () => {
    const { deps } = setup({});
    await expect(load(deps, 'incoming/gone.pem')).rejects.toMatchObject({ name: 'ObjectNotFoundError' });
  });

  it('refuses a file with a private key and puts none of it in the error', async () => {
    const key = await privateKeyPem(ca.keys);
    const { deps } = setup({ 'incoming/a.pem': { body: `${ca.pem}${key}` } });
    const error = await load(deps, 'incoming/a.pem').catch((caught: Error) => caught);
    expect(error).toMatchObject({ name: 'PrivateKeyMaterialError' });
    expect(JSON.stringify({ message: (error as Error).message, stack: (error as Error).stack })).not.toContain(
      key.split('\n')[1],
    );
  });

  it('reads the object at the version the event named', async () => {
    const { deps, mock } = setup({ 'incoming/a.pem': { body: `${ca.pem}${verification.pem}`, versionId: 'v2' } });
    await loadCertificate(deps, {
      input: {
        source: 'aws.s3',
        'detail-type': 'Object Created',
        detail: { bucket: { name: BUCKET }, object: { key: 'incoming/a.pem', 'version-id': 'v2' } },
      },
    });
    expect(mock).toHaveReceivedCommandWith(GetObjectCommand, {
      Key: 'incoming/a.pem',
      VersionId: 'v2',
      Range: expect.stringMatching(/^bytes=0-/),
    });
  });

  it('surfaces S3 throttling as the retryable ThrottledError', async () => {
    const { deps, mock } = setup({});
    mock.on(GetObjectCommand).rejects(awsError('SlowDown', 503));
    await expect(load(deps, 'incoming/a.pem')).rejects.toMatchObject({ name: 'ThrottledError' });
  });
});

describe('LoadCertificate on an empty object', () => {
  it('reports NotPemError, not a fault, when S3 answers 416 to the ranged GET of an empty object', async () => {
    const { deps } = setup({ 'incoming/empty.pem': { body: '' } });
    await expect(load(deps, 'incoming/empty.pem')).rejects.toMatchObject({ name: 'NotPemError' });
  });
});
