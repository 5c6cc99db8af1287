/**
 * Issue 17, the CLI side: `iot-ca ca create` makes a CA whose key never leaves (local) KMS or
 * Private CA, and `iot-ca drop --signer` registers it in DEFAULT mode with no verification
 * certificate from the operator. Each command runs as a user runs it, against one `iot-ca up`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ACMPCAClient, GetCertificateAuthorityCertificateCommand } from '@aws-sdk/client-acm-pca';
import { GetPublicKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createKmsCa, KMS_KEY_SPECS, type KmsKeySpec } from '../../cli/kms-ca.ts';
import type { SignerServices } from '../../cli/signer-services.ts';
import { createSignerCa, type Run, type RunningUp, runCli, startUp, stopUp } from '../fixtures/cli.ts';
import { makeCa } from '../fixtures/pki.ts';

let home: string;
let up: RunningUp;
const iotCa = (...args: string[]): Promise<Run> => runCli(home, args);
const errorOf = (run: Run): { name: string; message: string } =>
  (JSON.parse(run.stdout) as { error: { name: string; message: string } }).error;
const openssl = (...args: string[]): string => execFileSync('openssl', args, { cwd: home, encoding: 'utf8' });

const endpoints = () => up.ready.endpoints as unknown as Record<'s3' | 'kms' | 'pca', string>;
const local = { region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } };
const kmsClient = () => new KMSClient({ ...local, endpoint: endpoints().kms });

/** Every file under `dir` whose bytes hold a PEM private key, relative to home. */
const filesWithPrivateKeys = (dir: string): string[] => {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...filesWithPrivateKeys(path));
    else if (entry.isFile() && readFileSync(path, 'latin1').includes('PRIVATE KEY')) found.push(relative(home, path));
  }
  return found;
};

const spkiOf = (pem: string): string =>
  new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }).toString('hex');

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'iot-ca-ca-create-'));
  up = await startUp(home);
});

afterAll(async () => {
  await stopUp(up);
  rmSync(home, { recursive: true, force: true });
});

/**
 * `ca create --signer <kind> --local --json`, the file checked with openssl, then `drop --signer
 * --wait`: ACTIVE in DEFAULT mode, ownership proven through the signer, no key on disk.
 */
const createThenDrop = async (kind: 'kms' | 'pca', file: string, subject: string) => {
  const result = await createSignerCa(home, kind, file, subject);
  expect(result.file).toBe(file);
  const pem = readFileSync(join(home, file), 'utf8');
  const der = execFileSync('openssl', ['x509', '-in', file, '-outform', 'DER'], { cwd: home });
  expect(result.certificateId).toBe(createHash('sha256').update(der).digest('hex'));

  const text = openssl('x509', '-in', file, '-noout', '-text');
  expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
  expect(text).toMatch(/Key Usage: critical\s+[^\n]*Certificate Sign, CRL Sign/);
  expect(text).toContain('Subject Key Identifier');
  expect(openssl('verify', '-CAfile', file, file).trim()).toBe(`${file}: OK`);

  const dropped = await iotCa('--local', '--json', 'drop', file, '--signer', result.signer, '--wait');
  expect(dropped.code, dropped.stdout + dropped.stderr).toBe(0);
  const outcome = JSON.parse(dropped.stdout);
  expect(outcome.active).toBe(true);
  expect(outcome.result.ownership).toMatchObject({ method: kind, signer: result.signer });
  const status = await iotCa('--local', '--json', 'status', result.certificateId);
  expect(status.code, status.stderr).toBe(0);
  expect(JSON.parse(status.stdout)).toMatchObject({ status: 'ACTIVE', certificateMode: 'DEFAULT' });

  // No private key on disk but the local broker's own TLS key (AWS's side of the endpoint), and
  // that one is not the CA's.
  expect(filesWithPrivateKeys(home)).toEqual([join('state', 'mqtt', 'server.key')]);
  const brokerKey = createPublicKey(createPrivateKey(readFileSync(join(home, 'state', 'mqtt', 'server.key'))));
  expect(brokerKey.export({ type: 'spki', format: 'der' }).toString('hex')).not.toBe(spkiOf(pem));
  return { ...result, pem, text };
};

describe('iot-ca ca create --signer kms --local', () => {
  it('writes a self-signed CA certificate whose key stays in KMS, then drop --signer registers it ACTIVE in DEFAULT mode', async () => {
    const made = await createThenDrop('kms', 'kms-ca.pem', 'CN=Factory KMS CA,O=Acme,C=DE');
    expect(made.signer).toBe('kms:alias/iot-ca/factory-kms-ca');
    expect(made.text).toMatch(/Subject: CN ?= ?Factory KMS CA, O ?= ?Acme, C ?= ?DE/);
    // The certificate holds the key KMS holds, under the alias printed.
    const kms = kmsClient();
    const held = await kms.send(new GetPublicKeyCommand({ KeyId: 'alias/iot-ca/factory-kms-ca' }));
    kms.destroy();
    expect(Buffer.from(held.PublicKey as Uint8Array).toString('hex')).toBe(spkiOf(made.pem));
  }, 120_000);

  it('makes and self-signs each key spec AWS IoT accepts: RSA 2048/3072, P-256, P-384', async () => {
    const kms = kmsClient();
    const services: SignerServices = {
      where: 'local',
      kms: () => kms,
      pca: () => {
        throw new Error('not used');
      },
      close: async () => undefined,
    };
    const expected: Record<KmsKeySpec, RegExp> = {
      ECC_NIST_P256: /Public-Key: \(256 bit\)[\s\S]*NIST CURVE: P-256[\s\S]*ecdsa-with-SHA256/,
      ECC_NIST_P384: /Public-Key: \(384 bit\)[\s\S]*NIST CURVE: P-384[\s\S]*ecdsa-with-SHA384/,
      RSA_2048: /Public-Key: \(2048 bit\)[\s\S]*sha256WithRSAEncryption/,
      RSA_3072: /Public-Key: \(3072 bit\)[\s\S]*sha256WithRSAEncryption/,
    };
    try {
      for (const keySpec of Object.keys(KMS_KEY_SPECS) as KmsKeySpec[]) {
        const made = await createKmsCa(
          services,
          {
            subject: [{ type: 'CN', value: `key spec ${keySpec}` }],
            keySpec,
            days: 30,
            alias: `alias/iot-ca/test-${keySpec.toLowerCase()}`,
            now: new Date(),
          },
          () => undefined,
        );
        const file = `spec-${keySpec}.pem`;
        writeFileSync(join(home, file), made.pem);
        expect(openssl('x509', '-in', file, '-noout', '-text'), keySpec).toMatch(expected[keySpec]);
        expect(openssl('verify', '-CAfile', file, file).trim(), keySpec).toBe(`${file}: OK`);
        expect(made.signer).toBe(`kms:alias/iot-ca/test-${keySpec.toLowerCase()}`);
      }
    } finally {
      kms.destroy();
    }
  }, 120_000);

  it('refuses to overwrite an existing --out without --force, and creates no key', async () => {
    writeFileSync(join(home, 'taken.pem'), 'keep me\n');
    const refused = await iotCa(
      '--local',
      '--json',
      'ca',
      'create',
      '--signer',
      'kms',
      '--out',
      'taken.pem',
      '--subject',
      'CN=Overwrite test',
    );
    expect(refused.code).toBe(1);
    expect(errorOf(refused).name).toBe('OutputExistsError');
    expect(errorOf(refused).message).toContain('--force');
    expect(readFileSync(join(home, 'taken.pem'), 'utf8')).toBe('keep me\n');
    const kms = kmsClient();
    await expect(kms.send(new GetPublicKeyCommand({ KeyId: 'alias/iot-ca/overwrite-test' }))).rejects.toMatchObject({
      name: 'NotFoundException',
    });
    kms.destroy();

    const forced = await iotCa(
      '--local',
      'ca',
      'create',
      '--signer',
      'kms',
      '--out',
      'taken.pem',
      '--subject',
      'CN=Overwrite test',
      '--force',
    );
    expect(forced.code, forced.stderr).toBe(0);
    expect(readFileSync(join(home, 'taken.pem'), 'utf8')).toContain('-----BEGIN CERTIFICATE-----');
  }, 60_000);

  it('refuses an alias that already names a key, before making another', async () => {
    const first = await iotCa(
      '--local',
      'ca',
      'create',
      '--signer',
      'kms',
      '--out',
      'first.pem',
      '--alias',
      'iot-ca/line-7',
    );
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('kms:alias/iot-ca/line-7');
    const again = await iotCa(
      '--local',
      '--json',
      'ca',
      'create',
      '--signer',
      'kms',
      '--out',
      'again.pem',
      '--alias',
      'alias/iot-ca/line-7',
    );
    expect(again.code).toBe(1);
    expect(errorOf(again).name).toBe('AliasExistsError');
    expect(errorOf(again).message).toContain('nothing was created');
    expect(statSync(join(home, 'again.pem'), { throwIfNoEntry: false })).toBeUndefined();
  });

  it('refuses a key spec AWS IoT does not accept for a CA, naming the ones it does', async () => {
    const run = await iotCa(
      '--local',
      '--json',
      'ca',
      'create',
      '--signer',
      'kms',
      '--out',
      'p521.pem',
      '--key-spec',
      'ECC_NIST_P521',
    );
    expect(run.code).toBe(2);
    expect(errorOf(run).name).toBe('UnsupportedKeySpecError');
    expect(errorOf(run).message).toContain('ECC_NIST_P384');
  });
});

describe('iot-ca ca create --signer pca --local', () => {
  it('writes the root CA certificate Private CA holds, then drop --signer registers it ACTIVE in DEFAULT mode', async () => {
    const made = await createThenDrop('pca', 'pca-ca.pem', 'CN=Factory PCA CA,O=Acme');
    expect(made.signer).toMatch(/^pca:arn:aws:acm-pca:[a-z0-9-]+:\d{12}:certificate-authority\/[0-9a-f-]{36}$/);
    expect(made.text).toMatch(/Public-Key: \(256 bit\)[\s\S]*NIST CURVE: P-256/);
    // The file is the CA's certificate as Private CA holds it (what the pipeline compares it with).
    const pca = new ACMPCAClient({ ...local, endpoint: endpoints().pca });
    const held = await pca.send(
      new GetCertificateAuthorityCertificateCommand({ CertificateAuthorityArn: made.signer.slice('pca:'.length) }),
    );
    pca.destroy();
    expect(spkiOf(held.Certificate as string)).toBe(spkiOf(made.pem));
    expect(new X509Certificate(held.Certificate as string).fingerprint256).toBe(
      new X509Certificate(made.pem).fingerprint256,
    );
  }, 120_000);

  it('makes an RSA 2048 root, and refuses a key algorithm it does not offer', async () => {
    const run = await iotCa(
      '--local',
      '--json',
      'ca',
      'create',
      '--signer',
      'pca',
      '--out',
      'pca-rsa.pem',
      '--key-spec',
      'RSA_2048',
    );
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const text = openssl('x509', '-in', 'pca-rsa.pem', '-noout', '-text');
    expect(text).toMatch(/Public-Key: \(2048 bit\)[\s\S]*sha256WithRSAEncryption/);
    expect(openssl('verify', '-CAfile', 'pca-rsa.pem', 'pca-rsa.pem').trim()).toBe('pca-rsa.pem: OK');

    const refused = await iotCa(
      '--local',
      '--json',
      'ca',
      'create',
      '--signer',
      'pca',
      '--out',
      'pca-p384.pem',
      '--key-spec',
      'ECC_NIST_P384',
    );
    expect(refused.code).toBe(2);
    expect(errorOf(refused).name).toBe('UnsupportedKeySpecError');
    expect(errorOf(refused).message).toContain('EC_prime256v1');
  }, 60_000);
});

describe('iot-ca drop --signer', () => {
  it('refuses a signer the pipeline would refuse, before anything is uploaded', async () => {
    writeFileSync(join(home, 'bad-signer.pem'), (await makeCa({ subject: 'CN=bad signer test' })).pem);
    const run = await iotCa('--local', '--json', 'drop', 'bad-signer.pem', '--signer', 'kms:not a key');
    expect(run.code).toBe(1);
    expect(errorOf(run).name).toBe('InvalidOptionsError');
    expect(errorOf(run).message).toContain('kms:');
    const s3 = new S3Client({ ...local, endpoint: endpoints().s3, forcePathStyle: true });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: up.ready.bucket as string }));
    s3.destroy();
    const keys = (listed.Contents ?? []).map((object) => object.Key);
    expect(keys).not.toContain('incoming/bad-signer.pem');
  });
});

/**
 * A stand-in for an AWS JSON 1.1 endpoint: each operation answers what `answers` gives it, the
 * others are denied as IAM would deny them. Records the operations called, in order.
 */
const fakeEndpoint = async (answers: Record<string, object> = {}) => {
  const calls: string[] = [];
  const bodies: Record<string, Record<string, unknown>> = {};
  const server = createServer((request, response) => {
    const operation = String(request.headers['x-amz-target']).split('.').pop() as string;
    calls.push(operation);
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      bodies[operation] = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      const answer = answers[operation];
      response.writeHead(answer ? 200 : 400, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(
        JSON.stringify(
          answer ?? {
            __type: 'AccessDeniedException',
            message: `User: arn:aws:iam::123456789012:user/operator is not authorized to perform: ${operation}`,
          },
        ),
      );
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, calls, bodies, close: () => new Promise((done) => server.close(done)) };
};

describe('iot-ca ca create on AWS', () => {
  const aws = { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'example' };

  it('kms: names an access denial with the permissions ca create needs, and creates and writes nothing', async () => {
    const endpoint = await fakeEndpoint();
    try {
      const run = await runCli(home, ['--json', 'ca', 'create', '--signer', 'kms', '--out', 'denied-kms.pem'], {
        ...aws,
        AWS_ENDPOINT_URL_KMS: endpoint.url,
      });
      expect(run.code).toBe(1);
      expect(errorOf(run).name).toBe('AccessDeniedError');
      expect(errorOf(run).message).toMatch(/AWS KMS refused GetPublicKey: .*kms:CreateKey, kms:CreateAlias/);
      // Refused at the alias check: no key was asked for.
      expect(endpoint.calls).toEqual(['GetPublicKey']);
      expect(statSync(join(home, 'denied-kms.pem'), { throwIfNoEntry: false })).toBeUndefined();
    } finally {
      await endpoint.close();
    }
  });

  it('pca: a denial after the CA exists is reported at its first refusal (not retried by a waiter), naming the CA left behind', async () => {
    const arn = 'arn:aws:acm-pca:eu-west-1:123456789012:certificate-authority/11111111-2222-3333-4444-555555555555';
    const endpoint = await fakeEndpoint({ CreateCertificateAuthority: { CertificateAuthorityArn: arn } });
    try {
      const run = await runCli(home, ['--json', 'ca', 'create', '--signer', 'pca', '--out', 'denied-pca.pem'], {
        ...aws,
        AWS_ENDPOINT_URL_ACM_PCA: endpoint.url,
      });
      expect(run.code).toBe(1);
      expect(errorOf(run).name).toBe('AccessDeniedError');
      expect(errorOf(run).message).toMatch(
        /AWS Private CA refused GetCertificateAuthorityCsr: .*acm-pca:GetCertificateAuthorityCsr/,
      );
      expect(errorOf(run).message).toContain(`delete-certificate-authority --certificate-authority-arn ${arn}`);
      // The SDK's waiter retries every error: one call means the denial did not go through it.
      expect(endpoint.calls).toEqual(['CreateCertificateAuthority', 'GetCertificateAuthorityCsr']);
      expect(statSync(join(home, 'denied-pca.pem'), { throwIfNoEntry: false })).toBeUndefined();
    } finally {
      await endpoint.close();
    }
  });

  it('pca: creates a ROOT authority, issues its certificate with RootCACertificate/V1, installs it, writes what Private CA holds', async () => {
    const arn = 'arn:aws:acm-pca:eu-west-1:123456789012:certificate-authority/66666666-7777-8888-9999-000000000000';
    // Dated by a service clock a minute ahead of this machine's.
    const root = await makeCa({ subject: 'CN=Service clock CA', notBefore: new Date(Date.now() + 60_000) });
    const endpoint = await fakeEndpoint({
      CreateCertificateAuthority: { CertificateAuthorityArn: arn },
      GetCertificateAuthorityCsr: {
        Csr: '-----BEGIN CERTIFICATE REQUEST-----\nMA==\n-----END CERTIFICATE REQUEST-----\n',
      },
      IssueCertificate: { CertificateArn: `${arn}/certificate/0123456789abcdef` },
      GetCertificate: { Certificate: root.pem },
      ImportCertificateAuthorityCertificate: {},
      GetCertificateAuthorityCertificate: { Certificate: root.pem },
    });
    try {
      const run = await runCli(
        home,
        [
          '--json',
          'ca',
          'create',
          '--signer',
          'pca',
          '--out',
          'aws-pca.pem',
          '--subject',
          'CN=Service clock CA',
          '--days',
          '400',
        ],
        { ...aws, AWS_ENDPOINT_URL_ACM_PCA: endpoint.url },
      );
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ file: 'aws-pca.pem', signer: `pca:${arn}` });
      expect(endpoint.calls).toEqual([
        'CreateCertificateAuthority',
        'GetCertificateAuthorityCsr',
        'IssueCertificate',
        'GetCertificate',
        'ImportCertificateAuthorityCertificate',
        'GetCertificateAuthorityCertificate',
      ]);
      expect(endpoint.bodies.CreateCertificateAuthority).toMatchObject({
        CertificateAuthorityType: 'ROOT',
        CertificateAuthorityConfiguration: {
          KeyAlgorithm: 'EC_prime256v1',
          SigningAlgorithm: 'SHA256WITHECDSA',
          Subject: { CommonName: 'Service clock CA' },
        },
      });
      expect(endpoint.bodies.IssueCertificate).toMatchObject({
        CertificateAuthorityArn: arn,
        TemplateArn: 'arn:aws:acm-pca:::template/RootCACertificate/V1',
        Validity: { Type: 'DAYS', Value: 400 },
      });
      expect(new X509Certificate(readFileSync(join(home, 'aws-pca.pem'))).fingerprint256).toBe(
        new X509Certificate(root.pem).fingerprint256,
      );
    } finally {
      await endpoint.close();
    }
  });
});
