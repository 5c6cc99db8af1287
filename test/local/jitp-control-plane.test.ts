/**
 * The control-plane calls behind the data plane, exercised only through the unmodified
 * @aws-sdk/client-iot against the emulator's server: device certificates, Things, policies and the
 * data endpoint, with the errors AWS's model gives each. JITP itself is driven through the
 * registry's `connect`, as the broker calls it.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeCertificateCommand,
  DescribeEndpointCommand,
  DescribeThingCommand,
  GetPolicyCommand,
  IoTClient,
  ListAttachedPoliciesCommand,
  ListCertificatesByCACommand,
  ListThingPrincipalsCommand,
  RegisterCACertificateCommand,
  RegisterCertificateCommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IotEmulator } from '../../local/iot/emulator.ts';
import { type RunningServer, startIotServer } from '../../local/iot/server.ts';
import { JITP_TEMPLATE_BODY } from '../fixtures/devices.ts';
import { makeCa, makeLeaf, type Pki } from '../fixtures/pki.ts';

const DEVICE_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' }],
});

let stateDir: string;
let emulator: IotEmulator;
let server: RunningServer;
let iot: IoTClient;
let ca: Pki;
let other: Pki;

const start = async () => {
  emulator = new IotEmulator({ stateDir });
  server = await startIotServer(emulator);
  iot = new IoTClient({
    region: 'us-east-1',
    endpoint: server.url,
    maxAttempts: 1,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
};
const stop = async () => {
  iot.destroy();
  await server.close();
  await emulator.flush();
};
const errorOf = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.unreachable('expected an error'),
    (error: Error & { $metadata: { httpStatusCode: number } }) => error,
  );
const idOf = (pki: Pki) => createHash('sha256').update(Buffer.from(pki.certificate.rawData)).digest('hex');
const registerCa = async (pki: Pki) =>
  (
    await iot.send(
      new RegisterCACertificateCommand({
        caCertificate: pki.pem,
        certificateMode: 'SNI_ONLY',
        setAsActive: true,
        allowAutoRegistration: true,
        registrationConfig: { templateBody: JITP_TEMPLATE_BODY },
      }),
    )
  ).certificateId as string;

beforeAll(async () => {
  [ca, other] = await Promise.all([makeCa(), makeCa()]);
});
beforeEach(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'iot-devices-'));
  await start();
});
afterEach(async () => {
  await stop();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('device certificates', () => {
  it('RegisterCertificate: INACTIVE unless told, under its CA; duplicates, strangers and CAs refused', async () => {
    const caId = await registerCa(ca);
    const device = await makeLeaf(ca, 'CN=registered-1');
    const { certificateId, certificateArn } = await iot.send(
      new RegisterCertificateCommand({ certificatePem: device.pem }),
    );
    expect(certificateId).toBe(idOf(device));
    expect(certificateArn).toBe(`arn:aws:iot:us-east-1:000000000000:cert/${certificateId}`);
    const { certificateDescription } = await iot.send(new DescribeCertificateCommand({ certificateId }));
    expect(certificateDescription).toMatchObject({
      certificateId,
      caCertificateId: caId,
      status: 'INACTIVE',
      ownedBy: '000000000000',
      certificateMode: 'SNI_ONLY',
      customerVersion: 1,
      certificatePem: device.pem,
    });
    expect(certificateDescription?.validity?.notAfter).toEqual(device.certificate.notAfter);
    const duplicate = await errorOf(iot.send(new RegisterCertificateCommand({ certificatePem: device.pem })));
    expect([duplicate.name, duplicate.$metadata.httpStatusCode]).toEqual(['ResourceAlreadyExistsException', 409]);
    const active = await makeLeaf(ca, 'CN=registered-2');
    await iot.send(new RegisterCertificateCommand({ certificatePem: active.pem, status: 'ACTIVE' }));
    expect(
      (await iot.send(new DescribeCertificateCommand({ certificateId: idOf(active) }))).certificateDescription?.status,
    ).toBe('ACTIVE');
    const stranger = await makeLeaf(other, 'CN=stranger');
    expect((await errorOf(iot.send(new RegisterCertificateCommand({ certificatePem: stranger.pem })))).name).toBe(
      'CertificateValidationException',
    );
    expect((await errorOf(iot.send(new RegisterCertificateCommand({ certificatePem: ca.pem })))).name).toBe(
      'CertificateValidationException',
    );
    const pending = iot.send(
      new RegisterCertificateCommand({ certificatePem: device.pem, status: 'PENDING_ACTIVATION' }),
    );
    expect((await errorOf(pending)).name).toBe('InvalidRequestException');
  });

  it('UpdateCertificate: ACTIVE, INACTIVE, REVOKED; a REVOKED certificate stays REVOKED (406)', async () => {
    await registerCa(ca);
    const device = await makeLeaf(ca, 'CN=updated-1');
    const { certificateId } = await iot.send(new RegisterCertificateCommand({ certificatePem: device.pem }));
    for (const newStatus of ['ACTIVE', 'INACTIVE', 'REVOKED'] as const) {
      await iot.send(new UpdateCertificateCommand({ certificateId, newStatus }));
      expect((await iot.send(new DescribeCertificateCommand({ certificateId }))).certificateDescription?.status).toBe(
        newStatus,
      );
    }
    const back = await errorOf(iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'ACTIVE' })));
    expect([back.name, back.$metadata.httpStatusCode]).toEqual(['CertificateStateException', 406]);
    const invalid = iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'PENDING_ACTIVATION' }));
    expect((await errorOf(invalid)).name).toBe('InvalidRequestException');
    expect(
      (await iot.send(new DescribeCertificateCommand({ certificateId }))).certificateDescription?.customerVersion,
    ).toBe(4);
  });

  it('DescribeCertificate and UpdateCertificate: 404 for an unknown id, 400 for one that is not 64 hex', async () => {
    const missing = await errorOf(iot.send(new DescribeCertificateCommand({ certificateId: 'ab'.repeat(32) })));
    expect([missing.name, missing.$metadata.httpStatusCode]).toEqual(['ResourceNotFoundException', 404]);
    const update = iot.send(new UpdateCertificateCommand({ certificateId: 'ab'.repeat(32), newStatus: 'ACTIVE' }));
    expect((await errorOf(update)).name).toBe('ResourceNotFoundException');
    expect((await errorOf(iot.send(new DescribeCertificateCommand({ certificateId: 'xyz' })))).name).toBe(
      'InvalidRequestException',
    );
  });

  it('ListCertificatesByCA: only that CA’s certificates, paged, in creation order either way', async () => {
    const caId = await registerCa(ca);
    const otherId = await registerCa(other);
    const ids: string[] = [];
    for (const name of ['a', 'b', 'c']) {
      const device = await makeLeaf(ca, `CN=listed-${name}`);
      ids.push(
        (await iot.send(new RegisterCertificateCommand({ certificatePem: device.pem }))).certificateId as string,
      );
    }
    await iot.send(new RegisterCertificateCommand({ certificatePem: (await makeLeaf(other, 'CN=elsewhere')).pem }));
    const first = await iot.send(
      new ListCertificatesByCACommand({ caCertificateId: caId, pageSize: 2, ascendingOrder: true }),
    );
    expect(first.certificates?.map((c) => c.certificateId)).toEqual(ids.slice(0, 2));
    const second = await iot.send(
      new ListCertificatesByCACommand({
        caCertificateId: caId,
        pageSize: 2,
        ascendingOrder: true,
        marker: first.nextMarker,
      }),
    );
    expect(second.certificates?.map((c) => c.certificateId)).toEqual(ids.slice(2));
    expect(second.nextMarker).toBeUndefined();
    const descending = await iot.send(new ListCertificatesByCACommand({ caCertificateId: caId }));
    expect(descending.certificates?.map((c) => c.certificateId)).toEqual([...ids].reverse());
    expect((await iot.send(new ListCertificatesByCACommand({ caCertificateId: otherId }))).certificates).toHaveLength(
      1,
    );
  });
});

describe('what JITP leaves: Things, policies, attachments', () => {
  it('DescribeThing, ListThingPrincipals, GetPolicy and ListAttachedPolicies after a device’s first connection', async () => {
    emulator.devices.policies.ensure('device', DEVICE_POLICY);
    const caId = await registerCa(ca);
    const device = await makeLeaf(ca, 'CN=jitp-1');
    const decision = await emulator.durably(() => emulator.devices.connect(Buffer.from(device.certificate.rawData)));
    expect(decision.outcome).toBe('provisioned');
    const certificateArn = `arn:aws:iot:us-east-1:000000000000:cert/${idOf(device)}`;
    const thing = await iot.send(new DescribeThingCommand({ thingName: 'jitp-1' }));
    expect(thing).toMatchObject({
      thingName: 'jitp-1',
      defaultClientId: 'jitp-1',
      thingArn: 'arn:aws:iot:us-east-1:000000000000:thing/jitp-1',
      attributes: {},
      version: 1,
    });
    expect((await iot.send(new ListThingPrincipalsCommand({ thingName: 'jitp-1' }))).principals).toEqual([
      certificateArn,
    ]);
    const policy = await iot.send(new GetPolicyCommand({ policyName: 'device' }));
    expect(policy).toMatchObject({
      policyName: 'device',
      policyArn: 'arn:aws:iot:us-east-1:000000000000:policy/device',
      policyDocument: DEVICE_POLICY,
      defaultVersionId: '1',
    });
    expect((await iot.send(new ListAttachedPoliciesCommand({ target: certificateArn }))).policies).toEqual([
      { policyName: 'device', policyArn: 'arn:aws:iot:us-east-1:000000000000:policy/device' },
    ]);
    expect((await iot.send(new ListCertificatesByCACommand({ caCertificateId: caId }))).certificates?.[0]?.status).toBe(
      'ACTIVE',
    );
    // A second connection of the same certificate is let in; nothing is registered twice.
    expect(emulator.devices.connect(Buffer.from(device.certificate.rawData)).outcome).toBe('accepted');
  });

  it('refuses a template naming a policy that does not exist, and creates nothing but the certificate', async () => {
    await registerCa(ca);
    const device = await makeLeaf(ca, 'CN=no-policy');
    const events: string[] = [];
    emulator.onIotEvent = (event) => events.push(`${event.type}: ${event.message}`);
    const decision = await emulator.durably(() => emulator.devices.connect(Buffer.from(device.certificate.rawData)));
    expect(decision).toMatchObject({
      outcome: 'refused',
      reason: expect.stringMatching(/policy device does not exist/),
    });
    expect(events[1]).toMatch(/^ProvisionThing.ClientErrors: .*the policy device does not exist/);
    expect((await errorOf(iot.send(new DescribeThingCommand({ thingName: 'no-policy' })))).name).toBe(
      'ResourceNotFoundException',
    );
  });

  it('answers 404 for an unknown Thing, policy or attachment target, 400 for malformed names', async () => {
    for (const call of [
      iot.send(new DescribeThingCommand({ thingName: 'nobody' })),
      iot.send(new ListThingPrincipalsCommand({ thingName: 'nobody' })),
      iot.send(new GetPolicyCommand({ policyName: 'nothing' })),
      iot.send(
        new ListAttachedPoliciesCommand({ target: `arn:aws:iot:us-east-1:000000000000:cert/${'ab'.repeat(32)}` }),
      ),
    ])
      expect((await errorOf(call)).name).toBe('ResourceNotFoundException');
    expect((await errorOf(iot.send(new DescribeThingCommand({ thingName: 'bad name!' })))).name).toBe(
      'InvalidRequestException',
    );
  });
});

describe('DescribeEndpoint', () => {
  it('answers each endpoint type under one account prefix, kept across a restart; refuses an unknown type', async () => {
    const ats = (await iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }))).endpointAddress;
    expect(ats).toMatch(/^([0-9a-f]{14})-ats\.iot\.us-east-1\.localhost$/);
    const prefix = ats?.slice(0, 14);
    expect((await iot.send(new DescribeEndpointCommand({}))).endpointAddress).toBe(`${prefix}.iot.us-east-1.localhost`);
    expect(
      (await iot.send(new DescribeEndpointCommand({ endpointType: 'iot:CredentialProvider' }))).endpointAddress,
    ).toBe(`${prefix}.credentials.iot.us-east-1.localhost`);
    expect((await errorOf(iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Nope' })))).name).toBe(
      'InvalidRequestException',
    );
    await stop();
    await start();
    expect((await iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }))).endpointAddress).toBe(ats);
  });

  it('keeps device certificates, Things and policies across a restart', async () => {
    emulator.devices.policies.ensure('device', DEVICE_POLICY);
    await registerCa(ca);
    const device = await makeLeaf(ca, 'CN=kept-1');
    await emulator.durably(() => emulator.devices.connect(Buffer.from(device.certificate.rawData)));
    await stop();
    await start();
    expect(
      (await iot.send(new DescribeCertificateCommand({ certificateId: idOf(device) }))).certificateDescription?.status,
    ).toBe('ACTIVE');
    expect((await iot.send(new ListThingPrincipalsCommand({ thingName: 'kept-1' }))).principals).toHaveLength(1);
    expect((await iot.send(new GetPolicyCommand({ policyName: 'device' }))).policyDocument).toBe(DEVICE_POLICY);
  });
});
