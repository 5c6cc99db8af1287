/**
 * JITP on the embedded stack's data plane, end to end: CAs registered through the unmodified
 * @aws-sdk/client-iot, devices connecting with the mqtt client over TLS (SNI, client certificate),
 * the stack's IoT events, and the resources JITP leaves, read back through the SDK.
 */
import { createHash } from 'node:crypto';
import {
  DescribeCertificateCommand,
  DescribeEndpointCommand,
  DescribeThingCommand,
  GetPolicyCommand,
  ListAttachedPoliciesCommand,
  ListCertificatesByCACommand,
  ListThingPrincipalsCommand,
  RegisterCACertificateCommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import type { IotEvent } from '../../local/iot/emulator.ts';
import { attempt, closed, type Device, makeDevice } from '../fixtures/devices.ts';
import { makeCa, makeLeaf } from '../fixtures/pki.ts';
import { useLocalStack } from '../fixtures/stack.ts';

const events: IotEvent[] = [];
const local = useLocalStack({ onIotEvent: (event) => events.push(event) });
const endpoint = () => local.stack.endpoints.mqtt;

const idOf = (device: Device) => createHash('sha256').update(Buffer.from(device.pki.certificate.rawData)).digest('hex');
const typesFor = (certificateId: string) => events.filter((e) => e.certificateId === certificateId).map((e) => e.type);
const errorOf = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.unreachable('expected an error'),
    (error: Error) => error,
  );

const registerCa = async (
  mode: 'DEFAULT' | 'SNI_ONLY',
  options: { active?: boolean; autoRegistration?: boolean; templateBody?: string } = {},
) => {
  const ca = await makeCa();
  const verification = mode === 'DEFAULT' ? (await makeLeaf(ca, `CN=${local.code}`)).pem : undefined;
  const { certificateId } = await local.iot.send(
    new RegisterCACertificateCommand({
      caCertificate: ca.pem,
      ...(verification ? { verificationCertificate: verification } : {}),
      certificateMode: mode,
      setAsActive: options.active ?? true,
      allowAutoRegistration: options.autoRegistration ?? true,
      registrationConfig: options.templateBody
        ? { templateBody: options.templateBody }
        : { templateName: local.stack.app.params.templateName ?? 'iot-ca-local-jitp' },
    }),
  );
  return { ca, caId: certificateId as string };
};

const connected = async (device: Device): Promise<MqttClient> => {
  const result = await attempt(endpoint(), device);
  if (result.outcome !== 'connected') throw new Error(`${device.clientId}: ${JSON.stringify(result)}`);
  return result.client;
};

/** Publishes on `topic` and resolves with what the same client receives there. */
const echo = (client: MqttClient, topic: string): Promise<string> =>
  new Promise((resolve, reject) => {
    client.subscribe(topic, { qos: 1 }, (error) => {
      if (error) return reject(error);
      client.once('message', (_topic, payload) => resolve(payload.toString()));
      client.publish(topic, 'hello', { qos: 1 });
    });
  });

// Policy variables are IoT's `${…}`, not template literals.
const SELF = 'arn:aws:iot:us-east-1:000000000000:topic/devices/${iot:Connection.Thing.ThingName}/*';
const SELF_FILTER = 'arn:aws:iot:us-east-1:000000000000:topicfilter/devices/${iot:Connection.Thing.ThingName}/*';
const EVENTS = 'arn:aws:iot:us-east-1:000000000000:topic/$aws/events/certificates/registered/*';
const EVENTS_FILTER = 'arn:aws:iot:us-east-1:000000000000:topicfilter/$aws/events/certificates/registered/*';
const SNI_TEMPLATE = JSON.stringify({
  Parameters: {
    'AWS::IoT::Certificate::CommonName': { Type: 'String' },
    'AWS::IoT::Certificate::Organization': { Type: 'String' },
    'AWS::IoT::Certificate::Country': { Type: 'String' },
    'AWS::IoT::Certificate::Id': { Type: 'String' },
  },
  Resources: {
    thing: {
      Type: 'AWS::IoT::Thing',
      Properties: {
        ThingName: {
          'Fn::Join': [
            '-',
            [{ Ref: 'AWS::IoT::Certificate::Organization' }, { Ref: 'AWS::IoT::Certificate::CommonName' }],
          ],
        },
        AttributePayload: {
          country: { Ref: 'AWS::IoT::Certificate::Country' },
          org: { Ref: 'AWS::IoT::Certificate::Organization' },
        },
      },
    },
    certificate: {
      Type: 'AWS::IoT::Certificate',
      Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' },
    },
    policy: {
      Type: 'AWS::IoT::Policy',
      Properties: {
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: 'iot:Connect',
              Resource: 'arn:aws:iot:us-east-1:000000000000:client/${iot:ClientId}',
            },
            { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: [SELF, EVENTS] },
            { Effect: 'Allow', Action: 'iot:Subscribe', Resource: [SELF_FILTER, EVENTS_FILTER] },
          ],
        }),
      },
    },
  },
});

describe('JITP on the local data plane', () => {
  it('provisions a device of a DEFAULT CA on its first connection, closes it, and accepts the reconnect', async () => {
    const { ca, caId } = await registerCa('DEFAULT');
    const device = await makeDevice(ca, 'CN=default-device-1, O=Acme');
    const certificateId = idOf(device);
    expect(await attempt(endpoint(), device)).toEqual({ outcome: 'closed' });
    expect(typesFor(certificateId)).toEqual(['CertificateRegistered', 'ProvisionThing.Success']);

    const { certificateDescription } = await local.iot.send(new DescribeCertificateCommand({ certificateId }));
    expect(certificateDescription).toMatchObject({
      status: 'ACTIVE',
      caCertificateId: caId,
      certificateMode: 'DEFAULT',
    });
    const certificateArn = certificateDescription?.certificateArn as string;
    expect(certificateArn).toBe(`arn:aws:iot:us-east-1:000000000000:cert/${certificateId}`);
    expect(await local.iot.send(new DescribeThingCommand({ thingName: 'default-device-1' }))).toMatchObject({
      thingName: 'default-device-1',
      thingArn: 'arn:aws:iot:us-east-1:000000000000:thing/default-device-1',
    });
    expect(
      (await local.iot.send(new ListThingPrincipalsCommand({ thingName: 'default-device-1' }))).principals,
    ).toEqual([certificateArn]);
    const { policies } = await local.iot.send(new ListAttachedPoliciesCommand({ target: certificateArn }));
    expect(policies?.map((policy) => policy.policyName)).toEqual(['iot-ca-local-device']);
    const { policyDocument } = await local.iot.send(new GetPolicyCommand({ policyName: 'iot-ca-local-device' }));
    expect(policyDocument).toContain('client/${iot:Connection.Thing.ThingName}');
    expect((await local.iot.send(new ListCertificatesByCACommand({ caCertificateId: caId }))).certificates).toEqual([
      expect.objectContaining({ certificateId, status: 'ACTIVE', certificateMode: 'DEFAULT' }),
    ]);

    const client = await connected(device);
    expect(await echo(client, 'devices/default-device-1/telemetry')).toBe('hello');
    expect(typesFor(certificateId).at(-1)).toBe('Connect.Success');
    await client.endAsync();
  });

  it('provisions a device of an SNI_ONLY CA by its inline template: joined name, attributes, policy by document', async () => {
    const { ca, caId } = await registerCa('SNI_ONLY', { templateBody: SNI_TEMPLATE });
    const device = await makeDevice(ca, 'C=DE, O=Acme, CN=sni-1', 'Acme-sni-1');
    expect((await attempt(endpoint(), device)).outcome).toBe('closed');
    const thing = await local.iot.send(new DescribeThingCommand({ thingName: 'Acme-sni-1' }));
    expect(thing.attributes).toEqual({ country: 'DE', org: 'Acme' });
    const certificateId = idOf(device);
    const { certificateDescription } = await local.iot.send(new DescribeCertificateCommand({ certificateId }));
    expect(certificateDescription).toMatchObject({
      status: 'ACTIVE',
      certificateMode: 'SNI_ONLY',
      caCertificateId: caId,
    });
    const client = await connected(device);
    expect(await echo(client, 'devices/Acme-sni-1/x')).toBe('hello');

    // The registration event, as a subscriber whose policy allows the topic receives it.
    const topic = `$aws/events/certificates/registered/${caId}`;
    expect((await client.subscribeAsync(topic, { qos: 1 }))[0]?.qos).toBe(1);
    const received = new Promise<Record<string, unknown>>((resolve) =>
      client.once('message', (_topic, payload) => resolve(JSON.parse(payload.toString()))),
    );
    const second = await makeDevice(ca, 'C=DE, O=Acme, CN=sni-2', 'Acme-sni-2');
    const before = Date.now();
    expect((await attempt(endpoint(), second)).outcome).toBe('closed');
    const payload = await received;
    expect(Object.keys(payload).sort()).toEqual([
      'awsAccountId',
      'caCertificateId',
      'certificateId',
      'certificateRegistrationTimestamp',
      'certificateStatus',
      'timestamp',
    ]);
    expect(payload).toMatchObject({
      certificateId: idOf(second),
      caCertificateId: caId,
      certificateStatus: 'PENDING_ACTIVATION',
      awsAccountId: '000000000000',
    });
    expect(payload.timestamp).toBeGreaterThanOrEqual(before);
    expect(events.find((e) => e.type === 'CertificateRegistered' && e.certificateId === idOf(second))?.payload).toEqual(
      payload,
    );
    await client.endAsync();
  });

  it('takes a device that sends its certificate followed by its CA, as AWS does', async () => {
    const { ca } = await registerCa('SNI_ONLY');
    const device = await makeDevice(ca, 'CN=chained-1');
    const chain = { cert: `${device.pki.pem}\n${ca.pem}` };
    expect((await attempt(endpoint(), device, chain)).outcome).toBe('closed');
    expect(typesFor(idOf(device))).toEqual(['CertificateRegistered', 'ProvisionThing.Success']);
    const result = await attempt(endpoint(), device, chain);
    expect(result.outcome).toBe('connected');
    if (result.outcome === 'connected') await result.client.endAsync();
  });

  it('refuses a device whose CA is INACTIVE or has auto-registration DISABLE, and registers nothing', async () => {
    for (const options of [{ active: false }, { autoRegistration: false }]) {
      const { ca, caId } = await registerCa('SNI_ONLY', options);
      const device = await makeDevice(ca, 'CN=refused-1');
      expect((await attempt(endpoint(), device)).outcome).toBe('closed');
      expect((await attempt(endpoint(), device)).outcome).toBe('closed');
      expect((await local.iot.send(new ListCertificatesByCACommand({ caCertificateId: caId }))).certificates).toEqual(
        [],
      );
      const refusal = events.filter((e) => e.certificateId === idOf(device));
      expect(refusal.map((e) => e.type)).toEqual(['Connect.AuthError', 'Connect.AuthError']);
      expect(refusal[0]?.message).toMatch(options.active === false ? /is INACTIVE/ : /auto-registration DISABLE/);
    }
  });

  it('leaves a certificate PENDING_ACTIVATION when the template needs a field its subject lacks, and says why', async () => {
    const body = JSON.parse(SNI_TEMPLATE);
    body.Parameters['AWS::IoT::Certificate::SerialNumber'] = { Type: 'String' };
    body.Resources.thing.Properties.ThingName = { Ref: 'AWS::IoT::Certificate::SerialNumber' };
    const { ca } = await registerCa('SNI_ONLY', { templateBody: JSON.stringify(body) });
    const device = await makeDevice(ca, 'C=DE, O=Acme, CN=no-serial');
    const certificateId = idOf(device);
    expect((await attempt(endpoint(), device)).outcome).toBe('closed');
    const failure = events.find((e) => e.certificateId === certificateId && e.type === 'ProvisionThing.ClientErrors');
    expect(failure?.message).toMatch(/no SerialNumber for the parameter AWS::IoT::Certificate::SerialNumber/);
    const { certificateDescription } = await local.iot.send(new DescribeCertificateCommand({ certificateId }));
    expect(certificateDescription?.status).toBe('PENDING_ACTIVATION');
    // The device keeps being refused: nothing re-runs the template for a known certificate.
    expect((await attempt(endpoint(), device)).outcome).toBe('closed');
    expect(typesFor(certificateId)).toEqual([
      'CertificateRegistered',
      'ProvisionThing.ClientErrors',
      'Connect.AuthError',
    ]);
    expect(events.at(-1)?.message).toMatch(/is PENDING_ACTIVATION/);
    const serialDevice = await makeDevice(ca, 'C=DE, O=Acme, CN=with-serial, 2.5.4.5=SN0042', 'SN0042');
    expect((await attempt(endpoint(), serialDevice)).outcome).toBe('closed');
    expect((await attempt(endpoint(), serialDevice)).outcome).toBe('connected');
  });

  it('refuses a REVOKED or INACTIVE device certificate; a REVOKED one cannot be made ACTIVE again', async () => {
    const { ca } = await registerCa('DEFAULT');
    const revoked = await makeDevice(ca, 'CN=revoked-1');
    const inactive = await makeDevice(ca, 'CN=inactive-1');
    for (const device of [revoked, inactive]) expect((await attempt(endpoint(), device)).outcome).toBe('closed');
    await (await connected(revoked)).endAsync();
    await local.iot.send(new UpdateCertificateCommand({ certificateId: idOf(revoked), newStatus: 'REVOKED' }));
    await local.iot.send(new UpdateCertificateCommand({ certificateId: idOf(inactive), newStatus: 'INACTIVE' }));
    expect((await attempt(endpoint(), revoked)).outcome).toBe('closed');
    expect(events.at(-1)?.message).toMatch(/is REVOKED/);
    expect((await attempt(endpoint(), inactive)).outcome).toBe('closed');
    expect(events.at(-1)?.message).toMatch(/is INACTIVE/);
    const error = await errorOf(
      local.iot.send(new UpdateCertificateCommand({ certificateId: idOf(revoked), newStatus: 'ACTIVE' })),
    );
    expect(error.name).toBe('CertificateStateException');
  });

  it('denies what the device policy does not allow: another client id, a foreign subscription, a foreign publish', async () => {
    const { ca } = await registerCa('DEFAULT');
    const device = await makeDevice(ca, 'CN=policy-1');
    expect((await attempt(endpoint(), device)).outcome).toBe('closed');
    const impostor = await attempt(endpoint(), { ...device, clientId: 'someone-else' });
    expect(impostor).toEqual({ outcome: 'refused', message: expect.stringMatching(/Not authorized/i) });

    const client = await connected(device);
    // SUBACK 0x80: the subscription is refused, the connection stays.
    await expect(client.subscribeAsync('devices/other-thing/#')).rejects.toThrow(/Subscribe error/);
    expect(client.connected).toBe(true);
    const gone = closed(client);
    client.publish('devices/other-thing/cmd', 'x', { qos: 1 });
    await gone;
    expect(events.at(-1)).toMatchObject({ type: 'PublishIn.AuthError', clientId: 'policy-1' });
    expect(events.some((e) => e.type === 'Subscribe.AuthError' && e.clientId === 'policy-1')).toBe(true);
    client.end(true);
  });

  it('requires SNI naming the iot:Data-ATS endpoint', async () => {
    const { endpointAddress } = await local.iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }));
    expect(endpointAddress).toBe(endpoint().servername);
    expect(endpointAddress).toMatch(/^[0-9a-f]{14}-ats\.iot\.us-east-1\.localhost$/);
    const { ca } = await registerCa('SNI_ONLY');
    const device = await makeDevice(ca, 'CN=no-sni');
    const count = events.length;
    // To an IP address Node sends no SNI; the client skips its own check so the server's refusal shows.
    const result = await attempt(endpoint(), device, { servername: '', rejectUnauthorized: false });
    expect(result.outcome).toBe('closed');
    expect(events.slice(count).map((e) => e.message)).toEqual(['refused: the ClientHello sent no SNI (server name)']);
  });

  it('keeps certificates, Things, policies and the endpoint across an emulator restart', async () => {
    const { ca } = await registerCa('DEFAULT');
    const device = await makeDevice(ca, 'CN=survivor-1');
    expect((await attempt(endpoint(), device)).outcome).toBe('closed');
    const { endpointAddress } = await local.iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }));
    await local.stack.restartIot();
    expect((await local.iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }))).endpointAddress).toBe(
      endpointAddress,
    );
    const { certificateDescription } = await local.iot.send(
      new DescribeCertificateCommand({ certificateId: idOf(device) }),
    );
    expect(certificateDescription?.status).toBe('ACTIVE');
    expect((await local.iot.send(new DescribeThingCommand({ thingName: 'survivor-1' }))).thingName).toBe('survivor-1');
    const client = await connected(device);
    expect(await echo(client, 'devices/survivor-1/after-restart')).toBe('hello');
    await client.endAsync();
    // Events still reach the stack's listener from the restarted emulator.
    const next = await makeDevice(ca, 'CN=survivor-2');
    expect((await attempt(endpoint(), next)).outcome).toBe('closed');
    expect(typesFor(idOf(next))).toEqual(['CertificateRegistered', 'ProvisionThing.Success']);
  });
});
