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
import { parseSigner } from '../../functions/core/signer.ts';
import { type GlobalOptions, resolveTarget } from '../context.ts';
import { type Device, loadSigningCa, makeDevice, type SmokeResult, smokeTest } from '../device.ts';
import { readText } from '../files.ts';
import { CliError, type Output } from '../output.ts';
import { deviceText } from '../render.ts';

export interface DeviceConnectOptions {
  ca: string;
  /** The CA's key file; or */
  caKey?: string;
  /** `kms:<key>` or `pca:<CA ARN>`: the service that holds the CA's key signs the device. */
  signer?: string;
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
  if ((options.caKey === undefined) === (options.signer === undefined))
    throw new CliError(
      'CaKeyOrSignerError',
      options.caKey === undefined
        ? 'Say who signs the device certificate: --ca-key <ca.key> (a key file) or --signer kms:<key>|pca:<CA ARN> (a key in AWS KMS or AWS Private CA).'
        : 'Give --ca-key or --signer, not both: the device certificate is signed by the key file or by the signer.',
      2,
    );
  const caPem = readText(options.ca, 'CA certificate');
  const thingName = options.cn ?? `iot-ca-smoke-${randomBytes(4).toString('hex')}`;
  let device: Device;
  if (options.signer !== undefined) {
    // The pipeline's own parser, as drop --signer; then the signer is checked against --ca
    // (SignerKeyMismatchError) before anything is signed, written or connected.
    const signer = parseSigner(options.signer, '--signer');
    const { signerServices } = await import('../signer-services.ts');
    const { makeSignerDevice } = await import('../signer-device.ts');
    const services = await signerServices(
      globals,
      out,
      'device connect --signer signs with a key held by the running stack (made there by ca create).',
    );
    try {
      device = await makeSignerDevice(services, signer, caPem, thingName, out.progress);
    } finally {
      await services.close();
    }
  } else {
    const ca = await loadSigningCa(caPem, readText(options.caKey as string, 'CA key'));
    device = await makeDevice(ca, thingName);
  }
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
