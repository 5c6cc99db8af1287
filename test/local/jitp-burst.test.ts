/**
 * A fleet's first connection: 200 devices of one CA at once against JITP's quota (RegisterThing,
 * AWS's 10 requests per second, on by default). Throttled devices are refused with nothing
 * registered and come back with backoff, as AWS's JITP documentation tells devices to; all end
 * ACTIVE with their Things, and each certificate was registered once.
 */
import { ListCertificatesByCACommand, RegisterCACertificateCommand } from '@aws-sdk/client-iot';
import { describe, expect, it } from 'vitest';
import type { IotEvent } from '../../local/iot/emulator.ts';
import { connectWithBackoff, makeDevice } from '../fixtures/devices.ts';
import { makeCa } from '../fixtures/pki.ts';
import { useLocalStack } from '../fixtures/stack.ts';

const DEVICES = 200;
const events: IotEvent[] = [];
const local = useLocalStack({ onIotEvent: (event) => events.push(event) });

describe('a fleet connecting at once', () => {
  it(`provisions ${DEVICES} devices of one CA under the JITP quota, each reconnecting with backoff`, async () => {
    const ca = await makeCa();
    const { certificateId: caId } = await local.iot.send(
      new RegisterCACertificateCommand({
        caCertificate: ca.pem,
        certificateMode: 'SNI_ONLY',
        setAsActive: true,
        allowAutoRegistration: true,
        registrationConfig: { templateName: 'iot-ca-local-jitp' },
      }),
    );
    const devices = await Promise.all(
      Array.from({ length: DEVICES }, (_, i) => makeDevice(ca, `CN=fleet-${String(i).padStart(3, '0')}, O=Acme`)),
    );
    const endpoint = local.stack.endpoints.mqtt;
    const started = performance.now();
    const results = await Promise.all(devices.map((device) => connectWithBackoff(endpoint, device)));
    const seconds = (performance.now() - started) / 1000;
    await Promise.all(results.map(({ client }) => client.endAsync()));

    const count = (type: IotEvent['type']) => events.filter((event) => event.type === type).length;
    expect(count('CertificateRegistered')).toBe(DEVICES);
    expect(count('ProvisionThing.Success')).toBe(DEVICES);
    expect(count('ProvisionThing.Throttled')).toBeGreaterThan(0);
    expect(count('Connect.Success')).toBe(DEVICES);
    expect(local.stack.emulator.admitted.get('RegisterThing')).toBe(DEVICES);
    // At 10 a second after a burst of 10, 200 registrations take at least 19 s.
    expect(seconds).toBeGreaterThan(18);

    const certificates = [];
    let marker: string | undefined;
    do {
      const page = await local.iot.send(
        new ListCertificatesByCACommand({ caCertificateId: caId, pageSize: 250, ...(marker ? { marker } : {}) }),
      );
      certificates.push(...(page.certificates ?? []));
      marker = page.nextMarker;
    } while (marker);
    expect(certificates).toHaveLength(DEVICES);
    expect(certificates.every((certificate) => certificate.status === 'ACTIVE')).toBe(true);
    const things = devices.map((device) => local.stack.emulator.devices.things.find(device.clientId));
    expect(things.filter((thing) => thing?.principals.length === 1)).toHaveLength(DEVICES);
    const attempts = results.map((result) => result.attempts);
    console.info(
      `${DEVICES} devices ACTIVE in ${seconds.toFixed(1)} s; attempts per device: max ${Math.max(...attempts)}, ` +
        `mean ${(attempts.reduce((a, b) => a + b, 0) / DEVICES).toFixed(1)}`,
    );
  }, 90_000);
});
