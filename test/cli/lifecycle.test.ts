/**
 * Issue 16 through the `iot-ca` command: `retire` and `rotate` as an operator runs them, in
 * separate processes against one `iot-ca up` (the embedded stack, retire-ca included), and what
 * `events` and `up` show of it; first their arguments, checked before anything is reached.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { DescribeCACertificateCommand, IoTClient, RegisterCACertificateCommand } from '@aws-sdk/client-iot';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parseCaReference, requestIdFor, retireSettings } from '../../cli/commands/retire.ts';
import { DEFAULT_GRACE_DAYS, rotateSettings } from '../../cli/commands/rotate.ts';
import { claimKeyFor } from '../../functions/core/retire.ts';
import type { CliError } from '../../cli/output.ts';
import { graceText } from '../../cli/render.ts';
import { type Run, type RunningUp, runCli, startUp, stopUp, usageError } from '../fixtures/cli.ts';
import { makeCa, makeLeaf, P256, privateKeyPem } from '../fixtures/pki.ts';

describe('retire arguments', () => {
  it('sends only what the flags say, so tags and the deployment decide the rest', () => {
    expect(retireSettings({})).toEqual({ reason: 'manual' });
    expect(retireSettings({ reason: ' decommissioned ', policy: 'Deactivate', revokeDevices: true })).toEqual({
      reason: 'decommissioned',
      policy: 'deactivate',
      revokeDevices: true,
    });
  });

  it('takes --delete-after-days as asking for delete-after', () => {
    expect(retireSettings({ deleteAfterDays: '30' })).toEqual({
      reason: 'manual',
      policy: 'delete-after',
      deleteAfterDays: 30,
    });
  });

  it('refuses a policy, a number of days or a reason it cannot send', () => {
    expect(usageError(() => retireSettings({ policy: 'purge' })).message).toContain('deactivate or delete-after');
    expect(usageError(() => retireSettings({ deleteAfterDays: '-1' })).message).toContain('0 or more');
    expect(usageError(() => retireSettings({ deleteAfterDays: 'soon' })).message).toContain('number of days');
    expect(usageError(() => retireSettings({ policy: 'deactivate', deleteAfterDays: '3' })).message).toContain(
      'never deletes',
    );
    expect(usageError(() => retireSettings({ reason: '  ' })).message).toContain('--reason');
  });

  it('names a CA by its id, a prefix of it, or a file; anything else is CaNotFoundError', () => {
    const id = `${'AB'.repeat(32)}`;
    expect(parseCaReference(id)).toEqual({ kind: 'id', value: id.toLowerCase() });
    expect(parseCaReference('3f9a2c1b')).toEqual({ kind: 'prefix', value: '3f9a2c1b' });
    expect(parseCaReference('package.json')).toEqual({ kind: 'file', path: 'package.json' });
    try {
      parseCaReference('no-such-ca.pem');
      throw new Error('expected CaNotFoundError');
    } catch (error) {
      expect((error as CliError).name).toBe('CaNotFoundError');
    }
  });

  it('names the same request the same while the CA is unchanged, and a new one after it changed', () => {
    const id = 'c'.repeat(64);
    const settings = { reason: 'manual' };
    expect(requestIdFor(id, settings, 3)).toBe(requestIdFor(id, { reason: 'manual' }, 3));
    expect(requestIdFor(id, settings, 4)).not.toBe(requestIdFor(id, settings, 3));
    expect(requestIdFor(id, { reason: 'manual', revokeDevices: true }, 3)).not.toBe(requestIdFor(id, settings, 3));
  });
});

describe('rotate arguments', () => {
  it(`keeps the old CA ${DEFAULT_GRACE_DAYS} days unless --grace-days says otherwise`, () => {
    expect(rotateSettings({})).toEqual({ graceSeconds: DEFAULT_GRACE_DAYS * 86_400 });
    expect(rotateSettings({ graceDays: '0' })).toEqual({ graceSeconds: 0 });
    expect(rotateSettings({ graceDays: '0.5' })).toEqual({ graceSeconds: 43_200 });
    expect(usageError(() => rotateSettings({ graceDays: '-2' })).message).toContain('0 or more');
  });

  it('needs exactly one signer of the smoke test device, and the smoke test for a device key', () => {
    expect(usageError(() => rotateSettings({ smokeTest: true })).message).toContain('--device-ca-key');
    expect(
      usageError(() => rotateSettings({ smokeTest: true, deviceCaKey: 'k', signer: 'kms:alias/x' })).message,
    ).toContain('not both');
    expect(usageError(() => rotateSettings({ deviceCaKey: 'k' })).message).toContain('--smoke-test');
    expect(usageError(() => rotateSettings({ signer: 'kms:alias/x', verification: 'v.pem' })).message).toContain(
      'drop --verification',
    );
    expect(rotateSettings({ smokeTest: true, signer: 'kms:alias/x' })).toEqual({ graceSeconds: 7 * 86_400 });
  });

  it('says a grace period in the unit that reads best', () => {
    expect(graceText(14 * 86_400)).toBe('14 days');
    expect(graceText(86_400)).toBe('1 day');
    expect(graceText(7_200)).toBe('2 hours');
    expect(graceText(4)).toBe('4 seconds');
  });
});

// ---- end to end, on one `iot-ca up` ----

let home: string;
let up: RunningUp;
let s3: S3Client;
let bucket: string;
let serial = 0;

const iotCa = (...args: string[]): Promise<Run> => runCli(home, args);
const json = <T = any>(run: Run): T => JSON.parse(run.stdout) as T;

/** A new SNI_ONLY CA with its key in `home`, registered through `drop --wait`; its certificateId. */
const registeredCa = async (name: string): Promise<string> => {
  await caFiles(name);
  const drop = await iotCa('--local', '--json', 'drop', `${name}.pem`, '--mode', 'SNI_ONLY', '--wait');
  expect(drop.code, drop.stderr).toBe(0);
  return json(drop).result.certificateId as string;
};

const caFiles = async (name: string): Promise<void> => {
  const ca = await makeCa({ key: P256, fresh: true, subject: `CN=lifecycle ${name} ${process.pid}-${serial++}` });
  writeFileSync(join(home, `${name}.pem`), ca.pem);
  writeFileSync(join(home, `${name}.key`), await privateKeyPem(ca.keys, 'sec1'), { mode: 0o600 });
};

const statusOf = async (id: string): Promise<string | undefined> => {
  const run = await iotCa('--local', '--json', 'status', id);
  if (run.code === 0) return json(run).status as string;
  if (run.stdout.includes('CaNotFoundError')) return undefined;
  throw new Error(`status ${id} exited ${run.code}: ${run.stdout}${run.stderr}`);
};

const readObject = async <T = any>(key: string): Promise<T | undefined> => {
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse(await (object.Body as { transformToString: () => Promise<string> }).transformToString()) as T;
  } catch {
    return undefined;
  }
};

const eventually = async <T>(probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
};

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'iot-ca-lifecycle-'));
  up = await startUp(home);
  bucket = String(up.ready.bucket);
  s3 = new S3Client({
    region: 'us-east-1',
    endpoint: up.ready.endpoints.s3,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
}, 120_000);

afterAll(async () => {
  s3?.destroy();
  await stopUp(up);
  rmSync(home, { recursive: true, force: true });
});

describe('iot-ca retire', () => {
  it('retires a CA by its id: INACTIVE, the receipt in --json, exit 0', async () => {
    const id = await registeredCa('by-id');
    const run = await iotCa('--local', '--json', 'retire', id, '--reason', 'decommissioned');
    expect(run.code, run.stderr).toBe(0);
    const output = json(run);
    expect(output).toMatchObject({
      certificateId: id,
      status: 'SUCCEEDED',
      outcome: 'retired',
      pending: false,
      receiptKey: `results/retired/${id}.json`,
      receipt: {
        schema: 'iot-ca-pipeline/retired@1',
        certificateId: id,
        reason: 'decommissioned',
        policy: 'deactivate',
        outcome: 'retired',
        deviceCertificates: { total: 0, byStatus: {} },
      },
    });
    expect(output.steps.map((step: { name: string }) => step.name)).toContain('Deactivate');
    expect(await statusOf(id)).toBe('INACTIVE');
    expect(await readObject(`results/retired/${id}.json`)).toMatchObject({
      outcome: 'retired',
      reason: 'decommissioned',
    });
  });

  it('retires a CA by its file, says what happens next, and a re-run still exits 0', async () => {
    const id = await registeredCa('by-file');
    const run = await iotCa('--local', 'retire', 'by-file.pem');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`RETIRED  ${id}`);
    expect(run.stdout).toMatch(/status +INACTIVE, auto-registration DISABLE/);
    expect(run.stdout).toMatch(/devices +0 device certificates/);
    expect(run.stdout).toContain(`receipt    s3://${bucket}/results/retired/${id}.json`);
    // Its object still asks for the CA: the operator is told, and how to keep it retired.
    expect(run.stdout).toContain(`warning: s3://${bucket}/incoming/by-file.pem is still in the bucket`);
    const again = await iotCa('--local', '--json', 'retire', 'by-file.pem');
    expect(again.code, again.stderr).toBe(0);
    expect(['already-retired', 'duplicate', 'retired']).toContain(json(again).outcome);
    expect(await statusOf(id)).toBe('INACTIVE');
  });

  it('--no-wait returns once retire-ca has started; the CA is retired all the same', async () => {
    const id = await registeredCa('no-wait');
    const run = await iotCa('--local', '--json', 'retire', id.slice(0, 12), '--no-wait');
    expect(run.code, run.stderr).toBe(0);
    expect(json(run)).toMatchObject({
      certificateId: id,
      executionArn: expect.stringMatching(/:execution:[^:]*retire-ca:/),
      requestId: expect.stringMatching(/^cli-[0-9a-f]{32}$/),
      receiptKey: `results/retired/${id}.json`,
    });
    await eventually(async () => ((await statusOf(id)) === 'INACTIVE' ? true : undefined));
  });

  it('refuses an id IoT does not hold with CaNotFoundError and the remedy, exit 1', async () => {
    const run = await iotCa('--local', 'retire', 'f'.repeat(64));
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toMatch(
      /^error: CaNotFoundError: AWS IoT holds no CA certificate f{64}.*iot-ca --local list/,
    );
  });

  it('refuses a file that is not a certificate before reaching the stack', async () => {
    writeFileSync(join(home, 'notes.txt'), 'not a certificate\n');
    const run = await iotCa('--local', '--json', 'retire', 'notes.txt');
    expect(run.code).toBe(1);
    expect(json(run).error.name).toMatch(/NotPemError|NotACertificateError/);
  });

  it('will not revoke devices from a script without --yes, and leaves the CA as it was', async () => {
    const id = await registeredCa('guarded');
    const run = await iotCa('--local', 'retire', id, '--revoke-devices');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/ConfirmationRequiredError: --revoke-devices revokes every device certificate/);
    expect(run.stderr).toMatch(/--yes/);
    expect(await statusOf(id)).toBe('ACTIVE');
  });

  it('revokes the device certificates with --revoke-devices --yes and counts them', async () => {
    const id = await registeredCa('fleet');
    const device = await iotCa(
      '--local',
      'device',
      'connect',
      '--ca',
      'fleet.pem',
      '--ca-key',
      'fleet.key',
      '--cn',
      'fleet-1',
    );
    expect(device.code, device.stderr).toBe(0);
    const run = await iotCa('--local', '--json', 'retire', id, '--revoke-devices', '--yes');
    expect(run.code, run.stderr).toBe(0);
    expect(json(run).receipt).toMatchObject({
      deviceCertificates: { total: 1, byStatus: { ACTIVE: 1 } },
      revoked: { count: 1, complete: true },
    });
  });

  it('with delete-after returns once the CA is INACTIVE and reported; retire-ca deletes it when the days are over', async () => {
    // Registered by the pipeline from an object that is no longer there (one there would cancel the delete).
    await caFiles('short-lived');
    const iot = new IoTClient({
      region: 'us-east-1',
      endpoint: up.ready.endpoints.iot,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const registered = await iot.send(
      new RegisterCACertificateCommand({
        caCertificate: readFileSync(join(home, 'short-lived.pem'), 'utf8'),
        certificateMode: 'SNI_ONLY',
        setAsActive: true,
        tags: [
          { Key: 'iot-ca:source-bucket', Value: bucket },
          { Key: 'iot-ca:source-key', Value: 'incoming/short-lived.pem' },
        ],
      }),
    );
    iot.destroy();
    const id = registered.certificateId as string;
    // 0.00003 days: a Wait of 3 seconds on the local stack, which counts a day as 86,400 seconds.
    const run = await iotCa('--local', 'retire', id, '--delete-after-days', '0.00003');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`RETIRED  ${id}`);
    expect(run.stdout).toMatch(/next +deleted at \S+ unless its file is uploaded again before then/);
    await eventually(async () => ((await statusOf(id)) === undefined ? true : undefined));
    const receipt = await eventually(async () => {
      const written = await readObject(`results/retired/${id}.json`);
      return written?.outcome === 'deleted' ? written : undefined;
    });
    expect(receipt).toMatchObject({ policy: 'delete-after', outcome: 'deleted' });
    // Idempotent: the CA is gone, and retire says so from its receipt.
    const again = await iotCa('--local', 'retire', id);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`DELETED  ${id}`);
  });

  it('a duplicate while the CA is still ACTIVE is an error with the remedy; once the CA is retired, exit 0', async () => {
    const id = await registeredCa('held');
    const iot = new IoTClient({
      region: 'us-east-1',
      endpoint: up.ready.endpoints.iot,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const sfn = new SFNClient({
      region: 'us-east-1',
      endpoint: up.ready.endpoints.sfn,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    try {
      const { certificateDescription } = await iot.send(new DescribeCACertificateCommand({ certificateId: id }));
      // Another execution of the very request `retire --reason held` sends, held in a grace period.
      const requestId = requestIdFor(id, retireSettings({ reason: 'held' }), certificateDescription?.customerVersion);
      const { executionArn } = await sfn.send(
        new StartExecutionCommand({
          // up advertises register-ca's ARN; retire-ca is its sibling.
          stateMachineArn: String(up.ready.stateMachineArn).replace(/[^:]+$/, (name) =>
            name.replace(/register-ca$/, 'retire-ca'),
          ),
          name: `held-${process.pid}`,
          input: JSON.stringify({ certificateId: id, reason: 'held', requestId, graceSeconds: 10 }),
        }),
      );
      await eventually(() => readObject(claimKeyFor('results/', id, `request:${requestId}`)));
      const run = await iotCa('--local', '--json', 'retire', id, '--reason', 'held');
      expect(run.code).not.toBe(0);
      expect(run.stdout).toContain('RetireAlreadyClaimedError');
      expect(run.stdout).toContain('stop it');
      expect(await statusOf(id)).toBe('ACTIVE');

      // Once that execution has retired the CA, the command succeeds.
      await eventually(
        async () =>
          (await sfn.send(new DescribeExecutionCommand({ executionArn }))).status === 'RUNNING' ? undefined : true,
        60_000,
      );
      const again = await iotCa('--local', '--json', 'retire', id, '--reason', 'held');
      expect(again.code, again.stderr).toBe(0);
      // (The CA changed since, so this is a new request: already retired.)
      expect(['already-retired', 'duplicate']).toContain(json(again).outcome);
      expect(await statusOf(id)).toBe('INACTIVE');
    } finally {
      iot.destroy();
      sfn.destroy();
    }
  }, 90_000);
});

describe('iot-ca rotate', () => {
  it('refuses a new file that fails its check, and does not touch the old CA', async () => {
    const oldId = await registeredCa('keep');
    const leaf = await makeLeaf(await makeCa({ key: P256, fresh: true }), 'CN=not a CA');
    writeFileSync(join(home, 'leaf.pem'), leaf.pem);
    const run = await iotCa('--local', '--json', 'rotate', oldId, 'leaf.pem', '--grace-days', '0');
    expect(run.code).toBe(1);
    expect(json(run).error.name).toBe('NotACaError');
    expect(json(run).error.message).toMatch(/Nothing was uploaded; CA [0-9a-f]{64} was not touched/);
    expect(await statusOf(oldId)).toBe('ACTIVE');
    expect(await readObject('results/incoming/leaf.pem.json')).toBeUndefined();
  });

  it("refuses a smoke test key that is not the new CA's before uploading anything", async () => {
    const oldId = await registeredCa('keep-too');
    await caFiles('wrong-key-new');
    await caFiles('stranger');
    const run = await iotCa(
      '--local',
      'rotate',
      oldId,
      'wrong-key-new.pem',
      '--smoke-test',
      '--device-ca-key',
      'stranger.key',
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /CaKeyMismatchError: The --device-ca-key does not belong to the CA certificate wrong-key-new.pem\. Nothing was uploaded; CA [0-9a-f]{64} was not touched/,
    );
    expect(await statusOf(oldId)).toBe('ACTIVE');
    expect(await readObject('results/incoming/wrong-key-new.pem.json')).toBeUndefined();
  });

  it('refuses to rotate from a CA that is not ACTIVE', async () => {
    const oldId = await registeredCa('inactive-old');
    expect((await iotCa('--local', 'retire', oldId)).code).toBe(0);
    await caFiles('unused-new');
    const run = await iotCa('--local', 'rotate', oldId, 'unused-new.pem');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/CaNotActiveError: CA [0-9a-f]{64} is INACTIVE/);
  });

  it('registers the new CA, smoke-tests a device through it, then retires the old one after the grace', async () => {
    const oldId = await registeredCa('old');
    await caFiles('new');
    // 0.00005 days: retire-ca holds the old CA ACTIVE for 4 seconds.
    const run = await iotCa(
      '--local',
      '--json',
      'rotate',
      oldId.slice(0, 16),
      'new.pem',
      '--grace-days',
      '0.00005',
      '--smoke-test',
      '--device-ca-key',
      'new.key',
    );
    expect(run.code, run.stderr).toBe(0);
    const output = json(run);
    const newId = output.new.certificateId as string;
    expect(newId).toMatch(/^[0-9a-f]{64}$/);
    expect(output).toMatchObject({
      old: { certificateId: oldId, receiptKey: `results/retired/${oldId}.json` },
      new: { key: 'incoming/new.pem', receiptKey: 'results/incoming/new.pem.json' },
      smoke: { connected: true },
      retire: { graceSeconds: 4 },
    });
    // The command did not wait out the grace: the old CA is still ACTIVE, the new one too.
    expect(await statusOf(oldId)).toBe('ACTIVE');
    expect(await statusOf(newId)).toBe('ACTIVE');
    expect(await readObject('results/incoming/new.pem.json')).toMatchObject({ outcome: 'ACTIVE', replaces: oldId });
    const retired = await eventually(() => readObject(`results/retired/${oldId}.json`));
    expect(retired).toMatchObject({ reason: 'rotated', outcome: 'retired', replacedBy: newId });
    expect(await statusOf(oldId)).toBe('INACTIVE');
    expect(await statusOf(newId)).toBe('ACTIVE');
  });
});

describe('events of the lifecycle', () => {
  it('iot-ca events lists the registrations and retirements; up printed them as they happened', async () => {
    const run = await iotCa('--local', 'events');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/CA Registered +[0-9a-f]{16} {2}SNI_ONLY/);
    expect(run.stdout).toMatch(
      /CA Retired +[0-9a-f]{16} {2}retired \(deactivate\), reason rotated, 0 device certificates, replaced by [0-9a-f]{16}/,
    );
    const retiredOnly = await iotCa('--local', '--json', 'events', '--type', 'CA Retired');
    const envelopes = retiredOnly.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(envelopes.length).toBeGreaterThan(0);
    for (const envelope of envelopes)
      expect(envelope).toMatchObject({ source: 'iot-ca-pipeline', 'detail-type': 'CA Retired' });
    const printed = up.lines.map((line) => JSON.parse(line)).filter((line) => line.pipelineEvent);
    expect(printed.some((line) => line.pipelineEvent['detail-type'] === 'CA Registered')).toBe(true);
    expect(printed.some((line) => line.pipelineEvent['detail-type'] === 'CA Retired')).toBe(true);
  });
});
