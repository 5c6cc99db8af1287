/**
 * The bus end to end on the embedded stack: a CA dropped is registered and announced, its object
 * deleted retires it through CaDeletedRule, and both events reach the events log file as the
 * template's PipelineEventsRule sends them; retire-ca's SDK integrations answer with AWS's names.
 */
import { readFileSync, existsSync } from 'node:fs';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { DescribeCACertificateCommand } from '@aws-sdk/client-iot';
import { describe, expect, it } from 'vitest';
import { inspectCaFile } from '../../functions/core/certificate.ts';
import { SdkIntegrations } from '../../local/sfn/integrations.ts';
import { makeCa, makeLeaf } from '../fixtures/pki.ts';
import { useLocalStack } from '../fixtures/stack.ts';

const local = useLocalStack();

const logged = (): Array<{ 'detail-type': string; source: string; detail: Record<string, unknown> }> => {
  const file = local.stack.info().eventsLogFile;
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line))
    : [];
};

const failureName = (promise: Promise<unknown>) =>
  promise.then(
    () => 'none',
    (error: Error) => error.name,
  );

describe('a CA through the local bus', () => {
  it('is announced when registered and retired once when its object is deleted', async () => {
    const ca = await makeCa();
    const certificateId = inspectCaFile(ca.pem).certificateId;
    const key = 'incoming/lifecycle/bus.pem';
    await local.put(key, `${ca.pem}${(await makeLeaf(ca, `CN=${local.code}`)).pem}`);
    await local.settle();
    const registered = logged().filter((event) => event.detail.certificateId === certificateId);
    expect(registered.map((event) => event['detail-type'])).toEqual(['CA Registered']);

    await local.s3.send(new DeleteObjectCommand({ Bucket: local.stack.bucket, Key: key }));
    await local.settle();
    const runs = local.stack.retireEngine.list();
    expect(runs).toHaveLength(1);
    expect(runs[0]?.status).toBe('SUCCEEDED');
    const described = await local.iot.send(new DescribeCACertificateCommand({ certificateId }));
    expect(described.certificateDescription).toMatchObject({ status: 'INACTIVE', autoRegistrationStatus: 'DISABLE' });
    const retired = logged().filter(
      (event) => event.detail.certificateId === certificateId && event['detail-type'] === 'CA Retired',
    );
    expect(retired).toHaveLength(1);
    expect(retired[0]).toMatchObject({ source: 'iot-ca-pipeline', detail: { outcome: 'retired' } });
  });

  it("retire-ca's role gets AWS's error names from the IoT integrations", async () => {
    const ca = await makeCa();
    const certificateId = inspectCaFile(ca.pem).certificateId;
    await local.put('incoming/lifecycle/errors.pem', `${ca.pem}${(await makeLeaf(ca, `CN=${local.code}`)).pem}`);
    await local.settle();
    const integrations = new SdkIntegrations(local.stack.iam.stateMachineIdentity('RetireCaStateMachine'));
    try {
      // An ACTIVE CA cannot be deleted: AWS answers CertificateStateException.
      expect(await failureName(integrations.call('iot', 'deleteCACertificate', { CertificateId: certificateId }))).toBe(
        'Iot.CertificateStateException',
      );
      await integrations.call('iot', 'updateCACertificate', {
        CertificateId: certificateId,
        NewStatus: 'INACTIVE',
        NewAutoRegistrationStatus: 'DISABLE',
      });
      expect(await integrations.call('iot', 'deleteCACertificate', { CertificateId: certificateId })).toEqual({});
      expect(await failureName(integrations.call('iot', 'deleteCACertificate', { CertificateId: certificateId }))).toBe(
        'Iot.ResourceNotFoundException',
      );
    } finally {
      integrations.destroy();
    }
  });
});
