/**
 * JITP proven for signer CAs: `iot-ca device connect --signer` has the device certificate signed
 * by the CA key local KMS or Private CA holds (never a key file), and `iot-ca check --signer`
 * judges such a CA without a verification certificate. Each command runs as a user runs it,
 * against one `iot-ca up`: ca create → drop --signer --wait → device connect --signer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createSignerCa, type Run, type RunningUp, runCli, startUp, stopUp } from '../fixtures/cli.ts';

let home: string;
let up: RunningUp;
const iotCa = (...args: string[]): Promise<Run> => runCli(home, args);
const errorOf = (run: Run): { name: string; message: string } =>
  (JSON.parse(run.stdout) as { error: { name: string; message: string } }).error;
const openssl = (...args: string[]): string => execFileSync('openssl', args, { cwd: home, encoding: 'utf8' });

/** Every file under `dir` whose bytes hold a PEM private key, relative to home. */
const filesWithPrivateKeys = (dir: string): string[] => {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...filesWithPrivateKeys(path));
    else if (entry.isFile() && readFileSync(path, 'latin1').includes('PRIVATE KEY')) found.push(relative(home, path));
  }
  return found.sort();
};

const spkiOfCertificate = (file: string): string =>
  new X509Certificate(readFileSync(join(home, file))).publicKey.export({ type: 'spki', format: 'der' }).toString('hex');
const spkiOfKey = (file: string): string =>
  createPublicKey(createPrivateKey(readFileSync(join(home, file))))
    .export({ type: 'spki', format: 'der' })
    .toString('hex');

/** `ca create --signer <kind> --local`: the signer printed. */
const createCa = async (kind: 'kms' | 'pca', file: string, subject: string): Promise<string> =>
  (await createSignerCa(home, kind, file, subject)).signer;

/** ca create, then drop --signer --wait: ACTIVE in DEFAULT mode, ownership proven by the signer. */
const registeredSignerCa = async (kind: 'kms' | 'pca', file: string, subject: string): Promise<string> => {
  const signer = await createCa(kind, file, subject);
  const dropped = await iotCa('--local', '--json', 'drop', file, '--signer', signer, '--wait');
  expect(dropped.code, dropped.stdout + dropped.stderr).toBe(0);
  expect(JSON.parse(dropped.stdout).result.ownership).toMatchObject({ method: kind, signer });
  return signer;
};

interface Connected {
  connected: boolean;
  device: { thingName: string; certificateId: string; key: string; certificate: string };
  smoke: { attempts: number };
  provisioned: { certificateStatus: string; thing: { thingName: string } | null; policies: string[] };
}

const connect = async (caFile: string, signer: string, cn: string): Promise<Connected> => {
  const run = await iotCa('--local', '--json', 'device', 'connect', '--ca', caFile, '--signer', signer, '--cn', cn);
  expect(run.code, run.stdout + run.stderr).toBe(0);
  const result = JSON.parse(run.stdout) as Connected;
  expect(result.connected).toBe(true);
  // JITP closed the first connection while it provisioned the certificate; a reconnect held.
  expect(result.smoke.attempts).toBeGreaterThanOrEqual(2);
  expect(result.provisioned).toEqual({
    certificateStatus: 'ACTIVE',
    thing: { thingName: cn, attributes: expect.any(Object) },
    policies: ['iot-ca-local-device'],
  });
  // The certificate the service signed: CN = the Thing, for the device's own key, issued by the
  // CA's key (openssl, independently of the CLI), for client authentication.
  const certificate = relative(home, result.device.certificate);
  const key = relative(home, result.device.key);
  expect(certificate).toBe(join('iot-ca-devices', cn, 'device.crt'));
  expect(openssl('verify', '-CAfile', caFile, certificate).trim()).toBe(`${certificate}: OK`);
  const text = openssl('x509', '-in', certificate, '-noout', '-text');
  expect(text).toMatch(new RegExp(`Subject: CN ?= ?${cn}\\n`));
  expect(text).toContain('TLS Web Client Authentication');
  expect(spkiOfCertificate(certificate)).toBe(spkiOfKey(key));
  // Authority key identifier = the CA's subject key identifier.
  const caSki = /Subject Key Identifier:\s*\n\s*([0-9A-F:]+)/.exec(openssl('x509', '-in', caFile, '-noout', '-text'));
  expect(text).toContain(caSki?.[1] as string);
  return result;
};

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'iot-ca-device-signer-'));
  up = await startUp(home);
}, 60_000);

afterAll(async () => {
  await stopUp(up);
  rmSync(home, { recursive: true, force: true });
});

let kmsSigner: string;
let pcaSigner: string;

describe('iot-ca device connect --signer --local', () => {
  it('a device of a KMS CA is signed through KMS Sign and provisioned by JITP', async () => {
    kmsSigner = await registeredSignerCa('kms', 'kms-ca.pem', 'CN=Signer Device KMS CA,O=Acme');
    expect(kmsSigner).toBe('kms:alias/iot-ca/signer-device-kms-ca');
    const result = await connect('kms-ca.pem', kmsSigner, 'kms-sensor-1');
    // The KMS path gives the extensions makeDevice gives: CA:FALSE and digitalSignature, critical.
    const text = openssl('x509', '-in', result.device.certificate, '-noout', '-text');
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature\n/);
    expect(up.lines.some((line) => line.includes('"ProvisionThing.Success"'))).toBe(true);
  }, 120_000);

  it('a device of a Private CA is issued from its CSR (EndEntityCertificate/V1) and provisioned by JITP', async () => {
    pcaSigner = await registeredSignerCa('pca', 'pca-ca.pem', 'CN=Signer Device PCA CA,O=Acme');
    expect(pcaSigner).toMatch(/^pca:arn:aws:acm-pca:[a-z0-9-]+:\d{12}:certificate-authority\//);
    await connect('pca-ca.pem', pcaSigner, 'pca-sensor-1');
  }, 120_000);

  it('refuses a signer that does not hold the CA key, before any device is made or connected', async () => {
    // A second KMS key (its own CA), given for the first CA.
    const other = await createCa('kms', 'other-ca.pem', 'CN=Another KMS CA');
    expect(other).not.toBe(kmsSigner);
    const run = await iotCa(
      '--local',
      '--json',
      'device',
      'connect',
      '--ca',
      'kms-ca.pem',
      '--signer',
      other,
      '--cn',
      'mismatch-1',
    );
    expect(run.code).toBe(1);
    const error = errorOf(run);
    expect(error.name).toBe('SignerKeyMismatchError');
    expect(error.message).toContain(other);
    expect(run.stderr).not.toContain('connecting to');
    expect(existsSync(join(home, 'iot-ca-devices', 'mismatch-1'))).toBe(false);
    // Nor is a Private CA whose certificate is another CA's.
    const pca = await iotCa('--local', '--json', 'device', 'connect', '--ca', 'kms-ca.pem', '--signer', pcaSigner);
    expect(pca.code).toBe(1);
    expect(errorOf(pca).name).toBe('SignerKeyMismatchError');
    expect(readdirSync(join(home, 'iot-ca-devices')).sort()).toEqual(['kms-sensor-1', 'pca-sensor-1']);
  }, 120_000);

  it('takes exactly one of --ca-key and --signer, and refuses a malformed signer', async () => {
    const both = await iotCa(
      '--local',
      '--json',
      'device',
      'connect',
      '--ca',
      'kms-ca.pem',
      '--ca-key',
      'kms-ca.key',
      '--signer',
      kmsSigner,
    );
    expect(both.code).toBe(2);
    expect(errorOf(both)).toMatchObject({ name: 'CaKeyOrSignerError', message: expect.stringContaining('not both') });
    const neither = await iotCa('--local', '--json', 'device', 'connect', '--ca', 'kms-ca.pem');
    expect(neither.code).toBe(2);
    expect(errorOf(neither).name).toBe('CaKeyOrSignerError');
    const malformed = await iotCa(
      '--local',
      '--json',
      'device',
      'connect',
      '--ca',
      'kms-ca.pem',
      '--signer',
      'kms:not a key',
    );
    expect(malformed.code).toBe(1);
    expect(errorOf(malformed)).toMatchObject({
      name: 'InvalidOptionsError',
      message: expect.stringContaining('--signer'),
    });
    expect(existsSync(join(home, 'iot-ca-devices', 'kms-ca.key'))).toBe(false);
  });

  it('leaves no private key of a CA on disk: only the devices’ own keys and the broker’s', () => {
    const devices = ['kms-sensor-1', 'pca-sensor-1'].map((cn) => join('iot-ca-devices', cn, 'device.key'));
    expect(filesWithPrivateKeys(home)).toEqual([...devices, join('state', 'mqtt', 'server.key')].sort());
    const cas = ['kms-ca.pem', 'pca-ca.pem', 'other-ca.pem'].map(spkiOfCertificate);
    for (const key of [...devices, join('state', 'mqtt', 'server.key')]) expect(cas).not.toContain(spkiOfKey(key));
  });
});

describe('iot-ca check --signer', () => {
  it('passes a signer CA without a verification certificate, and says the pipeline makes it', async () => {
    const json = await iotCa('--json', 'check', 'kms-ca.pem', '--signer', 'kms:alias/iot-ca/signer-device-kms-ca');
    expect(json.code, json.stdout).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      verdict: 'PASS',
      certificateMode: 'DEFAULT',
      verification: 'signer',
      signer: 'kms:alias/iot-ca/signer-device-kms-ca',
      warnings: [expect.stringContaining('the pipeline has kms:alias/iot-ca/signer-device-kms-ca sign one')],
    });
    const text = await iotCa('check', 'pca-ca.pem', '--signer', pcaSigner);
    expect(text.code, text.stdout + text.stderr).toBe(0);
    expect(text.stdout).toContain(`mode      DEFAULT, verification made by the pipeline, signed by ${pcaSigner}`);
    // Without --signer the same file needs a verification certificate, as before.
    const without = await iotCa('--json', 'check', 'kms-ca.pem');
    expect(without.code).toBe(1);
    expect(JSON.parse(without.stdout).error.name).toBe('VerificationCertificateMissingError');
    expect(JSON.parse(without.stdout).error.message).toContain('--signer');
  });

  it('refuses a malformed signer, a signer with SNI_ONLY, and a signer with --verification', async () => {
    const malformed = await iotCa('--json', 'check', 'kms-ca.pem', '--signer', 'pca:arn:aws:iam::123456789012:role/x');
    expect(malformed.code).toBe(1);
    expect(JSON.parse(malformed.stdout)).toMatchObject({
      verdict: 'FAIL',
      error: { name: 'InvalidOptionsError', message: expect.stringContaining('--signer is "pca:arn:aws:iam') },
    });
    const sni = await iotCa('--json', 'check', 'kms-ca.pem', '--signer', 'kms:alias/x', '--mode', 'SNI_ONLY');
    expect(sni.code).toBe(1);
    expect(JSON.parse(sni.stdout).error).toMatchObject({ name: 'InvalidOptionsError' });
    const both = await iotCa(
      '--json',
      'check',
      'kms-ca.pem',
      '--signer',
      'kms:alias/x',
      '--verification',
      'kms-ca.pem',
    );
    expect(both.code).toBe(2);
    expect(errorOf(both).name).toBe('UsageError');
  });
});
