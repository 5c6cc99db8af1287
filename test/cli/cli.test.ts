/** The `iot-ca` command as a user runs it: a separate process, exit codes, --json output. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, type Run, runCli } from '../fixtures/cli.ts';
import { makeCa, makeLeaf, privateKeyPem, type Pki } from '../fixtures/pki.ts';

let home: string;
let ca: Pki;

const iotCa = (...args: string[]): Promise<Run> => runCli(home, args);
const file = (name: string, text: string): string => {
  writeFileSync(join(home, name), text);
  return name;
};

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'iot-ca-cli-'));
  ca = await makeCa();
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('iot-ca check', () => {
  it('passes a good CA with exit 0 and prints its certificateId', async () => {
    const run = await iotCa('check', file('good.pem', ca.pem), '--mode', 'SNI_ONLY');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^PASS {2}[0-9a-f]{64}/);
  });

  it('fails a leaf certificate with exit 1 and the named error in --json', async () => {
    const leaf = await makeCa({ ca: false });
    const run = await iotCa('check', file('leaf.pem', leaf.pem), '--json');
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({
      verdict: 'FAIL',
      error: { name: 'NotACaError', remedy: expect.any(String) },
    });
  });

  it('reports a missing file as one named line, no stack trace', async () => {
    const run = await iotCa('check', 'missing.pem');
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe('error: FileNotFoundError: Cannot read the CA file missing.pem: ENOENT');
  });

  it('exits 2 on a usage error', async () => {
    expect((await iotCa('drop')).code).toBe(2);
  });
});

describe('iot-ca on the local stack', () => {
  it('prints the same registration code across two invocations on one state directory', async () => {
    const first = await iotCa('--local', 'registration-code');
    const second = await iotCa('--local', 'registration-code', '--json');
    expect(first.code).toBe(0);
    expect(first.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(second.stdout)).toEqual({ registrationCode: first.stdout.trim() });
  });

  it('drop --wait exits 0 when the CA ends ACTIVE, with each step in --json', async () => {
    const code = (await iotCa('--local', 'registration-code')).stdout.trim();
    const verification = await makeLeaf(ca, `CN=${code}`);
    const run = await iotCa(
      '--local',
      '--json',
      'drop',
      file('factory.pem', ca.pem),
      '--verification',
      file('factory-verification.pem', verification.pem),
      '--tag',
      'team=factory',
      '--wait',
    );
    expect(run.code).toBe(0);
    const output = JSON.parse(run.stdout);
    expect(output).toMatchObject({
      key: 'incoming/factory.pem',
      status: 'SUCCEEDED',
      active: true,
      result: { outcome: 'ACTIVE', tags: { team: 'factory' } },
    });
    const steps = output.steps.map((step: { name: string }) => step.name);
    expect(steps).toEqual([
      'LoadCertificate',
      'CertificateMode',
      'VerifyOwnership',
      'RegisterCa',
      'NeedsConfiguration',
      'RecordResult',
      'Announce',
    ]);
    const list = JSON.parse((await iotCa('--local', '--json', 'list')).stdout);
    expect(list).toContainEqual(
      expect.objectContaining({
        certificateId: output.result.certificateId,
        status: 'ACTIVE',
        certificateMode: 'DEFAULT',
      }),
    );
    const status = await iotCa('--local', 'status', output.result.certificateId);
    expect(status.stdout).toMatch(/status\s+ACTIVE/);
  });

  it('drop --wait exits 1 with the named failure when the CA does not end ACTIVE', async () => {
    const other = await makeCa();
    const run = await iotCa('--local', 'drop', file('nocode.pem', other.pem), '--wait');
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^FAILED {2}VerificationCertificateMissingError/);
  });

  it('refuses to upload a file holding a private key, and says nothing of the key', async () => {
    const key = await privateKeyPem(ca.keys);
    const run = await iotCa('--local', 'drop', file('leak.pem', `${ca.pem}${key}`), '--json');
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ error: { name: 'PrivateKeyMaterialError' } });
    expect(run.stdout + run.stderr).not.toContain(key.split('\n')[1]);
  });

  it('run starts a manual execution and follows it; a bad input ends in the named error', async () => {
    const good = await iotCa(
      '--local',
      '--json',
      'run',
      file('manual.json', JSON.stringify({ bucket: 'iot-ca-local', key: 'incoming/factory.pem' })),
    );
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({
      status: 'SUCCEEDED',
      active: true,
      result: { outcome: 'ACTIVE', adopted: true },
    });
    const bad = await iotCa(
      '--local',
      '--json',
      'run',
      file('bad-input.json', JSON.stringify({ Bucket: 'x', Key: 'y' })),
    );
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({
      status: 'FAILED',
      error: 'InvalidInputError',
      active: false,
      result: null,
    });
  });

  it('reconcile reports counts and the IoT calls it made', async () => {
    const run = await iotCa('--local', '--json', 'reconcile');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({
      schema: 'iot-ca-pipeline/reconcile@1',
      deep: false,
      counts: { errors: 0 },
      iotCalls: { ListCACertificates: expect.any(Number) },
    });
    expect(report.counts.inSync).toBeGreaterThanOrEqual(1);
  });

  it('status of an unknown CA is a named error', async () => {
    const run = await iotCa('--local', '--json', 'status', '0'.repeat(64));
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toEqual({ error: { name: 'CaNotFoundError', message: expect.any(String) } });
  });
});

describe('iot-ca up', () => {
  it('announces itself as JSON, serves other --local commands, and stops cleanly on SIGINT', async () => {
    const child = spawn(process.execPath, [BIN, '--json', 'up'], {
      cwd: home,
      env: { ...process.env, IOT_CA_HOME: join(home, 'up-state'), IOT_CA_LOG_LEVEL: 'SILENT' },
    });
    const lines = createInterface({ input: child.stdout });
    const first = await new Promise<string>((done) => lines.once('line', done));
    const ready = JSON.parse(first);
    expect(ready).toMatchObject({
      ready: true,
      endpoints: {
        s3: expect.stringMatching(/^http:\/\/127\.0\.0\.1:/),
        iot: expect.stringMatching(/^http:\/\/127\.0\.0\.1:/),
      },
    });
    expect(existsSync(join(home, 'up-state', 'stack.json'))).toBe(true);
    const viaUp = await new Promise<Run>((done) =>
      execFile(
        process.execPath,
        [BIN, '--local', '--json', 'list'],
        { cwd: home, env: { ...process.env, IOT_CA_HOME: join(home, 'up-state') } },
        (error, stdout, stderr) => done({ code: error ? 1 : 0, stdout, stderr }),
      ),
    );
    expect(viaUp.code).toBe(0);
    expect(viaUp.stderr).not.toMatch(/starting the local stack/);
    const exited = new Promise<number | null>((done) => child.once('exit', done));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(existsSync(join(home, 'up-state', 'stack.json'))).toBe(false);
  });
});
