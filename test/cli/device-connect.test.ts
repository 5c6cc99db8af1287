/**
 * `iot-ca device connect --local` as an operator runs it after a registration, in separate
 * processes against one `iot-ca up`: a device of an ACTIVE CA provisions through JITP and ends
 * connected; a device of a deactivated CA does not, and the command says so with exit 1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IoTClient, UpdateCACertificateCommand } from '@aws-sdk/client-iot';
import { type Run, type RunningUp, runCli, startUp, stopUp } from '../fixtures/cli.ts';
import { makeCa, P256, privateKeyPem, type Pki } from '../fixtures/pki.ts';

let home: string;
let up: RunningUp;
let ca: Pki;
let caKey: string;
let iotEndpoint: string;

const iotCa = (...args: string[]): Promise<Run> => runCli(home, args);
/** `iot-ca device connect` for a device `cn` of the test's CA, on the local stack. */
const connect = (cn: string, ...args: string[]): Promise<Run> =>
  iotCa('device', 'connect', '--ca', 'ca.pem', '--ca-key', 'ca.key', '--cn', cn, '--local', ...args);

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'iot-ca-device-'));
  up = await startUp(home);
  iotEndpoint = up.ready.endpoints.iot;
  ca = await makeCa({ key: P256, subject: 'CN=device-connect test CA', fresh: true });
  caKey = await privateKeyPem(ca.keys, 'sec1');
  writeFileSync(join(home, 'ca.pem'), ca.pem);
  writeFileSync(join(home, 'ca.key'), caKey, { mode: 0o600 });
  const drop = await iotCa('drop', 'ca.pem', '--mode', 'SNI_ONLY', '--wait', '--local');
  expect(drop.code, drop.stderr).toBe(0);
});

afterAll(async () => {
  await stopUp(up);
  rmSync(home, { recursive: true, force: true });
});

describe('iot-ca device connect --local', () => {
  it('provisions a device of an ACTIVE CA through JITP and ends connected', async () => {
    const run = await connect('sensor-1', '--json');
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.connected).toBe(true);
    // The first connection is closed while JITP provisions the certificate; a reconnect holds.
    expect(result.smoke.attempts).toBeGreaterThanOrEqual(2);
    expect(result.provisioned).toMatchObject({
      certificateStatus: 'ACTIVE',
      thing: { thingName: 'sensor-1' },
      policies: ['iot-ca-local-device'],
    });
    // The device's key stays on this machine, readable by its owner only; no key is ever printed.
    expect(statSync(result.device.key).mode & 0o777).toBe(0o600);
    const deviceKey = readFileSync(result.device.key, 'utf8');
    for (const secret of [caKey, deviceKey]) {
      const body = secret.split('\n')[1] as string;
      expect(run.stdout).not.toContain(body);
      expect(run.stderr).not.toContain(body);
    }
    // iot-ca up logged the registration and the provisioning.
    expect(up.lines.some((line) => line.includes('"CertificateRegistered"'))).toBe(true);
    expect(up.lines.some((line) => line.includes('"ProvisionThing.Success"'))).toBe(true);
  });

  it('says a device of a deactivated CA is not connected, with exit 1', async () => {
    const iot = new IoTClient({
      endpoint: iotEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const id = JSON.parse((await iotCa('list', '--local', '--json')).stdout)[0]?.certificateId;
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    await iot.send(new UpdateCACertificateCommand({ certificateId: id, newStatus: 'INACTIVE' }));
    iot.destroy();
    const run = await connect('sensor-2', '--timeout', '3');
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/NOT CONNECTED/);
    expect(run.stdout).toMatch(/thing\s+none/);
  });
});
