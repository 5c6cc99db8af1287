/**
 * A corpus of bad (and good) CA files made at test time, each dropped through the whole flow on
 * the embedded stack: every bad one ends in its named error with a report, registers nothing and
 * leaves its object as uploaded; private-key material appears in no output at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { LocalStack } from '../../local/stack.ts';
import { ERROR_SPECS, type PipelineErrorName } from '../../functions/core/errors.ts';
import { foreignSpki, keyPair, makeCa, makeLeaf, P256, privateKeyPem, RSA2048, type Pki } from '../fixtures/pki.ts';

interface Case {
  name: string;
  body: string | Uint8Array;
  metadata?: Record<string, string>;
  /** The named error the failure report must carry; undefined = must end ACTIVE. */
  error?: string;
}

const DAY = 86_400_000;
let stateDir: string;
let stack: LocalStack;
let s3: S3Client;
const cases: Case[] = [];
const keyBodies: string[] = [];
const logged: string[] = [];
let restoreStdout: () => void;

const pemOf = (label: string, der: Uint8Array) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der)
    .toString('base64')
    .match(/.{1,64}/g)
    ?.join('\n')}\n-----END ${label}-----\n`;
const derOf = (pki: Pki) => new Uint8Array(new X509Certificate(pki.pem).raw);
const remember = (keyPem: string) => {
  // The base64 lines of a key: none of them may ever show up in an output.
  keyBodies.push(...keyPem.split('\n').filter((line) => line.length >= 40 && !line.startsWith('-----')));
  return keyPem;
};

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'iot-ca-corpus-'));
  // Capture everything the functions log (Powertools writes JSON lines to stdout and stderr).
  const capture = (stream: NodeJS.WriteStream) => {
    const write = stream.write.bind(stream);
    stream.write = ((chunk: string | Uint8Array) => {
      logged.push(String(chunk));
      return true;
    }) as typeof stream.write;
    return () => {
      stream.write = write;
    };
  };
  const restores = [capture(process.stdout), capture(process.stderr)];
  restoreStdout = () => {
    for (const restore of restores) restore();
  };
  stack = await LocalStack.start({ stateDir, retryIntervalMs: 5, logLevel: 'DEBUG' });
  s3 = new S3Client({});
  const code = stack.emulator.getRegistrationCode().registrationCode;
  stack.emulator.createProvisioningTemplate({
    templateName: 'fleet',
    templateBody: JSON.stringify({ Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: {} } } }),
    provisioningRoleArn: 'arn:aws:iam::000000000000:role/fleet-provisioning',
    type: 'FLEET_PROVISIONING',
  });
  const ca = await makeCa({ key: RSA2048 });
  const ec = await makeCa({ key: P256 });
  const verification = async (pki: Pki, name = `CN=${code}`, options = {}) => (await makeLeaf(pki, name, options)).pem;
  const withVerification = async (pki: Pki) => `${pki.pem}${await verification(pki)}`;
  const rsaKey = remember(await privateKeyPem(ca.keys, 'pkcs8'));
  const rsaKey1 = remember(await privateKeyPem(ca.keys, 'pkcs1'));
  const ecKey = remember(await privateKeyPem(ec.keys, 'sec1'));
  const encrypted = remember(await privateKeyPem(ca.keys, 'encrypted'));
  const spki = Buffer.from(await crypto.subtle.exportKey('spki', ca.keys.publicKey));
  const lines = ca.pem.trim().split('\n');
  const other = await keyPair(RSA2048, 'SHA-256', true);

  cases.push(
    { name: 'empty', body: '', error: 'NotPemError' },
    { name: 'blank', body: '  \n\t\n\n', error: 'NotPemError' },
    {
      name: 'random bytes',
      body: new Uint8Array(Array.from({ length: 700 }, (_, i) => (i * 7919 + 13) % 256)),
      error: 'NotPemError',
    },
    { name: 'JSON', body: JSON.stringify({ certificatePem: 'x' }), error: 'NotPemError' },
    { name: 'bare base64', body: Buffer.from(derOf(ca)).toString('base64'), error: 'NotPemError' },
    {
      name: 'garbage base64 in a block',
      body: '-----BEGIN CERTIFICATE-----\n@@@not*base64!!!\n-----END CERTIFICATE-----\n',
      error: 'MalformedPemError',
    },
    { name: 'truncated body', body: [...lines.slice(0, 5), lines.at(-1)].join('\n'), error: 'MalformedPemError' },
    { name: 'missing END line', body: lines.slice(0, -1).join('\n'), error: 'MalformedPemError' },
    { name: 'DER', body: derOf(ca), error: 'NotPemError' },
    { name: 'UTF-16 PEM', body: new Uint8Array(Buffer.from(ca.pem, 'utf16le')), error: 'NotPemError' },
    { name: 'CSR', body: pemOf('CERTIFICATE REQUEST', derOf(ca)), error: 'NotACertificateError' },
    { name: 'PKCS#7', body: pemOf('PKCS7', derOf(ca)), error: 'NotACertificateError' },
    { name: 'CRL', body: pemOf('X509 CRL', derOf(ca)), error: 'NotACertificateError' },
    { name: 'public key alone', body: pemOf('PUBLIC KEY', spki), error: 'NotACertificateError' },
    { name: 'certificate then private key', body: `${ca.pem}${rsaKey}`, error: 'PrivateKeyMaterialError' },
    { name: 'private key then certificate', body: `${rsaKey}${ca.pem}`, error: 'PrivateKeyMaterialError' },
    { name: 'PKCS#1 key alone', body: rsaKey1, error: 'PrivateKeyMaterialError' },
    { name: 'PKCS#8 key alone', body: rsaKey, error: 'PrivateKeyMaterialError' },
    { name: 'SEC1 key alone', body: ecKey, error: 'PrivateKeyMaterialError' },
    { name: 'encrypted key alone', body: encrypted, error: 'PrivateKeyMaterialError' },
    { name: 'leaf certificate', body: (await makeCa({ ca: false })).pem, error: 'NotACaError' },
    { name: 'no basicConstraints', body: (await makeCa({ ca: null })).pem, error: 'NotACaError' },
    {
      name: 'RSA 1024',
      body: await withVerification(await makeCa({ key: { type: 'rsa', bits: 1024 } })),
      error: 'UnsupportedKeyError',
    },
    {
      name: 'RSA 2047',
      body: await withVerification(await makeCa({ key: { type: 'rsa', bits: 2047 } })),
      error: 'UnsupportedKeyError',
    },
    {
      name: 'SHA-1 signature',
      body: await withVerification(await makeCa({ hash: 'SHA-1' })),
      error: 'UnsupportedSignatureAlgorithmError',
    },
    {
      name: 'secp256k1',
      body: (await makeCa({ key: P256, publicKeyDer: foreignSpki('secp256k1'), subject: 'CN=k1' })).pem,
      error: 'UnsupportedKeyError',
    },
    { name: 'Ed25519', body: (await makeCa({ key: { type: 'ed25519' } })).pem, error: 'UnsupportedKeyError' },
    {
      name: 'expired',
      body: (await makeCa({ notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - DAY) })).pem,
      error: 'CertificateExpiredError',
    },
    {
      name: 'not yet valid',
      body: (await makeCa({ notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 400 * DAY) })).pem,
      error: 'CertificateNotYetValidError',
    },
    { name: 'two unrelated CAs', body: `${ca.pem}${ec.pem}`, error: 'AmbiguousCaError' },
    {
      name: 'CA and two more certificates',
      body: `${ca.pem}${await verification(ca)}${await verification(ca, 'CN=x')}`,
      error: 'TooManyCertificatesError',
    },
    { name: 'over 65536 characters', body: `${ca.pem}${'#'.repeat(66_000)}\n`, error: 'ObjectTooLargeError' },
    { name: 'DEFAULT without verification', body: (await makeCa()).pem, error: 'VerificationCertificateMissingError' },
    {
      name: 'wrong CN',
      body: `${ca.pem}${await verification(ca, 'CN=device-42')}`,
      error: 'RegistrationCodeMismatchError',
    },
    {
      name: 'CN truncated',
      body: `${ca.pem}${await verification(ca, `CN=${code.slice(0, 63)}`)}`,
      error: 'RegistrationCodeMismatchError',
    },
    {
      name: 'code in O, not CN',
      body: `${ca.pem}${await verification(ca, `CN=device, O=${code}`)}`,
      error: 'RegistrationCodeMismatchError',
    },
    {
      name: 'verification signed by another key',
      body: `${ca.pem}${await verification(ca, `CN=${code}`, { signWith: other.privateKey })}`,
      error: 'VerificationSignatureError',
    },
    {
      name: 'verification expired',
      body: `${ca.pem}${await verification(ca, `CN=${code}`, { notBefore: new Date(Date.now() - 9 * DAY), notAfter: new Date(Date.now() - DAY) })}`,
      error: 'VerificationCertificateExpiredError',
    },
    {
      name: 'verification not yet valid',
      body: `${ca.pem}${await verification(ca, `CN=${code}`, { notBefore: new Date(Date.now() + DAY) })}`,
      error: 'VerificationCertificateNotYetValidError',
    },
    {
      name: 'SNI_ONLY with a verification certificate',
      body: await withVerification(ec),
      metadata: { 'certificate-mode': 'SNI_ONLY' },
      error: 'VerificationNotAllowedError',
    },
    {
      name: 'misspelt metadata',
      body: ec.pem,
      metadata: { 'certificate-mod': 'SNI_ONLY' },
      error: 'InvalidOptionsError',
    },
    { name: 'unknown mode', body: ec.pem, metadata: { 'certificate-mode': 'FAST' }, error: 'InvalidOptionsError' },
    {
      name: 'reserved tag',
      body: ec.pem,
      metadata: { 'certificate-mode': 'SNI_ONLY', tags: 'aws:x=1' },
      error: 'InvalidOptionsError',
    },
    {
      name: 'template that does not exist',
      body: ec.pem,
      metadata: { 'certificate-mode': 'SNI_ONLY', 'template-name': 'no-such-template' },
      error: 'TemplateNotFoundError',
    },
    {
      name: 'fleet-provisioning template',
      body: ec.pem,
      metadata: { 'certificate-mode': 'SNI_ONLY', 'template-name': 'fleet' },
      error: 'TemplateNotJitpError',
    },
  );
  const good = async (name: string, pki: Pki, transform = (text: string) => text) =>
    cases.push({ name, body: transform(await withVerification(pki)) });
  await good('CRLF line ends', await makeCa(), (text) => text.replace(/\n/g, '\r\n'));
  await good('UTF-8 BOM', await makeCa(), (text) => `\uFEFF${text}`);
  await good('trailing blank lines', await makeCa(), (text) => `${text}\n\n\n`);
  await good('RSA 2048', await makeCa({ key: RSA2048, fresh: true }));
  await good('RSA 3072', await makeCa({ key: { type: 'rsa', bits: 3072 } }));
  await good('RSA 4096', await makeCa({ key: { type: 'rsa', bits: 4096 } }));
  await good('P-256', await makeCa({ key: P256, fresh: true }));
  await good('P-384', await makeCa({ key: { type: 'ec', curve: 'P-384' } }));
  await good('intermediate CA', await makeCa({ key: P256, issuer: ca, subject: 'CN=Intermediate' }));
  await good('expiring in 10 days', await makeCa({ notAfter: new Date(Date.now() + 10 * DAY) }));

  // Buffers have a known length: the SDK warns of no 'Stream of unknown length' for the empty file.
  await Promise.all(
    cases.map((c, i) =>
      s3.send(
        new PutObjectCommand({
          Bucket: stack.bucket,
          Key: `incoming/corpus/${i}.pem`,
          Body: typeof c.body === 'string' ? Buffer.from(c.body) : c.body,
          Metadata: c.metadata ?? {},
        }),
      ),
    ),
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  await stack.idle();
}, 240_000);
afterAll(async () => {
  restoreStdout();
  s3.destroy();
  await stack.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

const read = async (key: string): Promise<Uint8Array> =>
  (
    (await (
      await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: key }))
    ).Body) as { transformToByteArray(): Promise<Uint8Array> }
  ).transformToByteArray();
const resultOf = async (i: number) =>
  JSON.parse(Buffer.from(await read(`results/incoming/corpus/${i}.pem.json`)).toString('utf8'));

describe('the bad-input corpus through the whole flow', () => {
  it('has at least 40 bad cases and the good ones the issue names', () => {
    expect(cases.filter((c) => c.error).length).toBeGreaterThanOrEqual(40);
    expect(cases.filter((c) => !c.error).length).toBe(10);
  });

  it('ends every bad file in its named error, with a report and a remedy, and no execution crashed', async () => {
    const outcomes = await Promise.all(
      cases.map(async (c, i) => {
        const report = await resultOf(i);
        return {
          name: c.name,
          expected: c.error ?? 'ACTIVE',
          got: report.outcome === 'ACTIVE' ? 'ACTIVE' : report.error.name,
          remedy: report.error?.remedy ?? 'n/a',
        };
      }),
    );
    expect(outcomes.map(({ name, got }) => [name, got])).toEqual(
      outcomes.map(({ name, expected }) => [name, expected]),
    );
    // Each error's own remedy from errors.ts, not the generic one for unexpected errors.
    for (const outcome of outcomes.filter((o) => o.expected !== 'ACTIVE'))
      expect(outcome.remedy, outcome.name).toBe(ERROR_SPECS[outcome.expected as PipelineErrorName].remedy);
    const flows = stack.engine.list();
    expect(flows).toHaveLength(cases.length);
    for (const flow of flows)
      expect(flow.status === 'SUCCEEDED' || flow.events.some((event) => event.state?.name === 'RecordFailure')).toBe(
        true,
      );
  });

  it('registers exactly the good files, nothing for the bad ones', () => {
    expect(stack.emulator.snapshot()).toHaveLength(cases.filter((c) => !c.error).length);
    expect(stack.emulator.snapshot().every((ca) => ca.status === 'ACTIVE')).toBe(true);
  });

  it('warns about the CA that expires in 10 days', async () => {
    const index = cases.findIndex((c) => c.name === 'expiring in 10 days');
    expect((await resultOf(index)).warnings.join()).toMatch(/expires in/);
  });

  it('leaves every uploaded object exactly as it was', async () => {
    for (const [i, c] of cases.entries()) {
      const expected = typeof c.body === 'string' ? new TextEncoder().encode(c.body) : c.body;
      expect(Buffer.from(await read(`incoming/corpus/${i}.pem`)).equals(Buffer.from(expected)), c.name).toBe(true);
    }
  });

  it('never lets private-key material into logs, results, executions, tags or the IoT state', () => {
    expect(keyBodies.length).toBeGreaterThan(20);
    const outputs: Array<[string, string]> = [['logs', logged.join('')]];
    for (const flow of [...stack.engine.list(), ...stack.reconcileEngine.list()])
      outputs.push([`execution ${flow.name}`, JSON.stringify(flow)]);
    const walk = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) =>
        statSync(join(dir, name)).isDirectory() ? walk(join(dir, name)) : [join(dir, name)],
      );
    // Everything on disk except the uploaded objects themselves (the operator's own files).
    for (const file of walk(stateDir).filter((path) => !path.includes(`${join('iot-ca-local', 'incoming')}`)))
      outputs.push([file, readFileSync(file, 'latin1')]);
    expect(outputs.some(([name]) => name.includes(join('results', 'incoming', 'corpus')))).toBe(true);
    expect(logged.join('')).toMatch(/PrivateKeyMaterialError/);
    for (const [name, text] of outputs) {
      for (const line of keyBodies) expect(text.includes(line), `${name} contains key material`).toBe(false);
    }
  });
});
