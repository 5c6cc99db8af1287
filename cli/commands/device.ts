/**
 * `iot-ca device connect`: the operator's smoke test after a registration. Makes a device signed
 * by the CA, connects it (the local broker with --local, the account's iot:Data-ATS endpoint
 * otherwise), lets JITP provision it, publishes and receives one message, then shows what JITP
 * made: the certificate's status, the Thing and the policy.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  DescribeCertificateCommand,
  DescribeThingCommand,
  type IoTClient,
  ListAttachedPoliciesCommand,
} from '@aws-sdk/client-iot';
import { type GlobalOptions, resolveTarget } from '../context.ts';
import { type Device, loadSigningCa, makeDevice, type SmokeResult, smokeTest } from '../device.ts';
import { readText } from '../files.ts';
import type { Output } from '../output.ts';
import { deviceText } from '../render.ts';

export interface DeviceConnectOptions {
  ca: string;
  caKey: string;
  cn?: string;
  out?: string;
  timeout?: string;
}

/** What JITP made of the device: read back through the control plane (absent parts are null). */
export interface Provisioned {
  certificateStatus: string | null;
  thing: { thingName: string; attributes: Record<string, string> } | null;
  policies: string[];
}

const optional = async <T>(call: () => Promise<T>): Promise<T | undefined> => {
  try {
    return await call();
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'ResourceNotFoundException' || name === 'NotImplementedException') return undefined;
    throw error;
  }
};

export const provisionedState = async (iot: IoTClient, device: Device): Promise<Provisioned> => {
  const certificate = await optional(() =>
    iot.send(new DescribeCertificateCommand({ certificateId: device.certificateId })),
  );
  const arn = certificate?.certificateDescription?.certificateArn;
  const thing = await optional(() => iot.send(new DescribeThingCommand({ thingName: device.thingName })));
  const policies = arn ? await optional(() => iot.send(new ListAttachedPoliciesCommand({ target: arn }))) : undefined;
  return {
    certificateStatus: certificate?.certificateDescription?.status ?? null,
    thing: thing?.thingName ? { thingName: thing.thingName, attributes: thing.attributes ?? {} } : null,
    policies: (policies?.policies ?? []).map((policy) => policy.policyName ?? ''),
  };
};

/** Writes the device's key (mode 0600) and certificate chain where the operator can reuse them. */
const keepDevice = (device: Device, dir: string): { key: string; certificate: string } => {
  mkdirSync(dir, { recursive: true });
  const key = join(dir, 'device.key');
  const certificate = join(dir, 'device.crt');
  writeFileSync(key, device.keyPem, { mode: 0o600 });
  chmodSync(key, 0o600);
  writeFileSync(certificate, device.chainPem);
  return { key, certificate };
};

export const deviceConnect = async (
  options: DeviceConnectOptions,
  globals: GlobalOptions,
  out: Output,
): Promise<number> => {
  const ca = await loadSigningCa(readText(options.ca, 'CA certificate'), readText(options.caKey, 'CA key'));
  const thingName = options.cn ?? `iot-ca-smoke-${randomBytes(4).toString('hex')}`;
  const device = await makeDevice(ca, thingName);
  const files = keepDevice(device, resolve(options.out ?? join('iot-ca-devices', thingName)));
  out.progress(`device ${thingName}: key ${files.key}, certificate ${files.certificate}`);
  const target = await resolveTarget(globals, { onProgress: out.progress, onNotice: out.notice });
  try {
    const endpoint = await target.deviceEndpoint();
    out.progress(`connecting to ${endpoint.url} (SNI ${endpoint.servername})`);
    const smoke: SmokeResult = await smokeTest(endpoint, device, {
      timeoutMs: Number(options.timeout ?? 60) * 1000,
      ...(target.kind === 'deployed' ? {} : { backoffMs: 250 }),
      onStep: (step) =>
        out.progress(`${step.ok ? '✔' : '✗'} ${step.step} ${step.ms} ms${step.detail ? `: ${step.detail}` : ''}`),
    });
    const provisioned = await provisionedState(target.iot, device);
    out.result(
      {
        connected: smoke.connected,
        device: { thingName, certificateId: device.certificateId, ...files },
        smoke,
        provisioned,
      },
      deviceText(thingName, device.certificateId, smoke, provisioned),
    );
    return smoke.connected ? 0 : 1;
  } finally {
    await target.close();
  }
};
