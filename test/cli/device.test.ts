/** The device smoke test's own pieces: the CA key check and the device certificate it makes. */
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DescribeEndpointCommand, IoTClient } from '@aws-sdk/client-iot';
import { mockClient } from 'aws-sdk-client-mock';
import { awsDeviceEndpoint } from '../../cli/context.ts';
import { loadSigningCa, makeDevice } from '../../cli/device.ts';
import { CliError } from '../../cli/output.ts';
import { makeCa, P256, privateKeyPem, RSA2048 } from '../fixtures/pki.ts';

const failure = async (run: () => Promise<unknown>): Promise<CliError> => {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    return error as CliError;
  }
  throw new Error('expected a CliError');
};

describe('device connect: the CA and its key', () => {
  it.each([
    ['EC P-256', P256],
    ['RSA 2048', RSA2048],
  ])('a %s CA signs a device certificate AWS would chain to it', async (_name, key) => {
    const ca = await makeCa({ key, fresh: true });
    for (const format of ['pkcs8', 'pkcs1-or-sec1'] as const) {
      const keyPem = await privateKeyPem(ca.keys, format === 'pkcs8' ? 'pkcs8' : key.type === 'ec' ? 'sec1' : 'pkcs1');
      const device = await makeDevice(await loadSigningCa(ca.pem, keyPem), 'sensor-7');
      const certificate = new X509Certificate(device.certificatePem);
      const issuer = new X509Certificate(ca.pem);
      expect(certificate.verify(issuer.publicKey)).toBe(true);
      expect(certificate.checkIssued(issuer)).toBe(true);
      expect(certificate.subject).toBe('CN=sensor-7');
      expect(certificate.ca).toBe(false);
      expect(device.certificateId).toBe(certificate.fingerprint256.replace(/:/g, '').toLowerCase());
      // The chain a JITP device presents: its certificate, then its CA's.
      expect(device.chainPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
      expect(device.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/);
    }
  });

  it("refuses a key that is not the CA's, without printing it", async () => {
    const ca = await makeCa({ key: P256, fresh: true });
    const other = await makeCa({ key: P256, fresh: true });
    const otherKey = await privateKeyPem(other.keys, 'pkcs8');
    const error = await failure(() => loadSigningCa(ca.pem, otherKey));
    expect(error.name).toBe('CaKeyMismatchError');
    expect(error.message).not.toContain(otherKey.split('\n')[1]);
  });

  it('refuses what is not an unencrypted private key, without echoing it', async () => {
    const ca = await makeCa({ key: P256, fresh: true });
    const encrypted = await privateKeyPem(ca.keys, 'encrypted');
    for (const text of [ca.pem, encrypted, 'not a key']) {
      const error = await failure(() => loadSigningCa(ca.pem, text));
      expect(error.name).toBe('CaKeyUnreadableError');
      expect(error.message).not.toContain(text.split('\n')[1] ?? text);
    }
  });
});

describe('device connect on AWS: the endpoint', () => {
  it("is the account's iot:Data-ATS endpoint on 8883, with SNI and the system's roots", async () => {
    const iot = mockClient(IoTClient);
    iot.on(DescribeEndpointCommand, { endpointType: 'iot:Data-ATS' }).resolves({
      endpointAddress: 'a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com',
    });
    const endpoint = await awsDeviceEndpoint(new IoTClient({ region: 'eu-west-1' }))();
    expect(endpoint).toEqual({
      url: 'mqtts://a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com:8883',
      servername: 'a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com',
    });
    iot.restore();
  });
});
