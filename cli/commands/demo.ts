/** `iot-ca demo`: two demo CAs on the local stack, dropped and followed to their outcome. */
import { GetRegistrationCodeCommand } from '@aws-sdk/client-iot';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { localTarget } from '../context.ts';
import { followedJson, followObject, type Followed } from '../flow.ts';
import type { Output } from '../output.ts';
import { demoText, deviceText } from '../render.ts';
import { makeDevice, signingCa, smokeTest } from '../device.ts';
import { provisionedState } from './device.ts';

export const demo = async (out: Output): Promise<number> => {
  const { makeCa, makeLeaf, P256, RSA2048 } = await import('../../local/pki.ts');
  const target = await localTarget({ onProgress: out.progress, onNotice: out.notice });
  try {
    const { registrationCode: code } = await target.iot.send(new GetRegistrationCodeCommand({}));
    out.progress(`registration code ${code}`);
    const stamp = new Date()
      .toISOString()
      .replace(/[-:.TZ]/g, '')
      .slice(0, 14);
    // Keys live only in this process's memory: the demo uploads certificates, never keys.
    const defaultCa = await makeCa({
      key: P256,
      subject: `CN=iot-ca demo DEFAULT CA ${stamp}, O=iot-ca-pipeline demo`,
      fresh: true,
    });
    const verification = await makeLeaf(defaultCa, `CN=${code}`);
    const sniCa = await makeCa({
      key: RSA2048,
      subject: `CN=iot-ca demo SNI_ONLY CA ${stamp}, O=iot-ca-pipeline demo`,
      fresh: true,
    });
    const drops = [
      {
        key: `${target.incomingPrefix}demo-${stamp}-default.pem`,
        body: `${defaultCa.pem}${verification.pem}`,
        metadata: { 'certificate-mode': 'DEFAULT', tags: 'env=demo' },
      },
      {
        key: `${target.incomingPrefix}demo-${stamp}-sni.pem`,
        body: sniCa.pem,
        metadata: { 'certificate-mode': 'SNI_ONLY', tags: 'env=demo' },
      },
    ];
    const since = new Date();
    for (const item of drops) {
      await target.s3.send(
        new PutObjectCommand({ Bucket: target.bucket, Key: item.key, Body: item.body, Metadata: item.metadata }),
      );
      out.progress(`dropped ${item.key} (${item.metadata['certificate-mode']})`);
    }
    const results: Followed[] = [];
    for (const item of drops) results.push(await followObject(target, out, item.key, since));
    // Then what the registration is for: a device of each CA connects and JITP provisions it.
    const devices = [];
    if (results.every((r) => r.active)) {
      const endpoint = await target.deviceEndpoint();
      for (const [index, ca] of [defaultCa, sniCa].entries()) {
        const device = await makeDevice(
          signingCa(ca.certificate, ca.keys.privateKey),
          `demo-${stamp}-${index === 0 ? 'default' : 'sni'}-device`,
        );
        out.progress(`device ${device.thingName} connecting to ${endpoint.url}`);
        const smoke = await smokeTest(endpoint, device, { timeoutMs: 30_000, backoffMs: 250 });
        devices.push({ device, smoke, provisioned: await provisionedState(target.iot, device) });
      }
    }
    const connected = devices.length === results.length && devices.every((each) => each.smoke.connected);
    out.result(
      {
        active: results.every((r) => r.active),
        cas: results.map(followedJson),
        devices: devices.map(({ device, smoke, provisioned }) => ({
          thingName: device.thingName,
          certificateId: device.certificateId,
          connected: smoke.connected,
          attempts: smoke.attempts,
          provisioned,
        })),
      },
      [
        demoText(target.resultsPrefix, results),
        ...devices.map(({ device, smoke, provisioned }) =>
          deviceText(device.thingName, device.certificateId, smoke, provisioned),
        ),
      ].join('\n\n'),
    );
    return results.every((r) => r.active) && connected ? 0 : 1;
  } finally {
    await target.close();
  }
};
