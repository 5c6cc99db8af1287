/**
 * The pipeline's own events on the embedded stack (docs/adr/0027, 0028): what each flow puts on the
 * bus, once per cause, each detail valid under its JSON Schema in schemas/events/.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { UpdateCACertificateCommand } from '@aws-sdk/client-iot';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { inspectCaFile } from '../../functions/core/certificate.ts';
import type { BusEvent } from '../../local/events/bus.ts';
import { makeCa, makeLeaf, P256, type Pki } from '../fixtures/pki.ts';
import { useLocalStack } from '../fixtures/stack.ts';

const Ajv2020 = createRequire(import.meta.url)('ajv/dist/2020') as new (
  options?: object,
) => { compile(schema: object): ((data: unknown) => boolean) & { errors?: unknown } };
const ajv = new Ajv2020({ strict: false });
const SCHEMA_FILES: Record<string, string> = {
  'CA Registered': 'schemas/events/ca-registered.schema.json',
  'CA Drift Repaired': 'schemas/events/ca-drift-repaired.schema.json',
  'CA Registration Failed': 'schemas/events/ca-registration-failed.schema.json',
  'CA Expiring': 'schemas/events/ca-expiring.schema.json',
};
const validators = Object.fromEntries(
  Object.entries(SCHEMA_FILES).map(([type, file]) => [type, ajv.compile(JSON.parse(readFileSync(file, 'utf8')))]),
);

const seen: BusEvent[] = [];
// Reconciled straight after upload: no grace for an event-started flow.
const local = useLocalStack({
  params: { reconcileGraceMinutes: '0' },
  onBusEvent: (event) => seen.push(event),
});

/** The pipeline's own events about one source key (or CA), each checked against its schema. */
const pipelineEvents = (type: string, about: (detail: Record<string, any>) => boolean) =>
  seen
    .filter((event) => event.source === 'iot-ca-pipeline' && event['detail-type'] === type)
    .map((event) => event.detail as Record<string, any>)
    .filter(about)
    .map((detail) => {
      const validate = validators[type];
      expect(validate?.(detail), `${type}: ${JSON.stringify(validate?.errors)}`).toBe(true);
      return detail;
    });
const forKey = (key: string) => (detail: Record<string, any>) => detail.source?.key === key;

const upload = async (key: string, ca: Pki, code = local.code) => {
  await local.put(key, `${ca.pem}${(await makeLeaf(ca, `CN=${code}`)).pem}`);
  await local.settle();
};
/** The S3 event of the object as it is now, delivered again (EventBridge delivers at least once). */
const deliverAgain = async (key: string) => {
  const head = await local.s3.send(new HeadObjectCommand({ Bucket: local.stack.bucket, Key: key }));
  const record = await local.stack.engine.run({
    source: 'aws.s3',
    'detail-type': 'Object Created',
    detail: {
      bucket: { name: local.stack.bucket },
      object: { key, etag: head.ETag?.replace(/"/g, ''), ...(head.VersionId ? { 'version-id': head.VersionId } : {}) },
    },
  });
  await local.stack.idle();
  return record;
};
const reconcile = async () => {
  const record = await local.stack.reconcileEngine.start({ bucket: local.stack.bucket, deep: false }).done;
  expect(record.status).toBe('SUCCEEDED');
  await local.stack.idle();
};

describe('CA Registered', () => {
  it('one upload puts one event, and a duplicate delivery of it none', async () => {
    const ca = await makeCa({ key: P256 });
    await upload('incoming/events/one.pem', ca);
    const [detail, ...more] = pipelineEvents('CA Registered', forKey('incoming/events/one.pem'));
    expect(more).toEqual([]);
    expect(detail).toMatchObject({
      certificateId: inspectCaFile(ca.pem).certificateId,
      trigger: 'upload',
      adopted: false,
      receiptKey: 'results/incoming/events/one.pem.json',
      replaces: null,
    });
    expect((await local.resultOf('incoming/events/one.pem')).executionId).toBe(detail?.executionId);

    const again = await deliverAgain('incoming/events/one.pem');
    expect(again.status).toBe('SUCCEEDED');
    expect(again.events.some((event) => event.state?.name === 'RecordUnchanged')).toBe(true);
    expect(pipelineEvents('CA Registered', forKey('incoming/events/one.pem'))).toHaveLength(1);
  });

  it('carries the replaces metadata of a rotation to the event and the receipt', async () => {
    const ca = await makeCa({ key: P256 });
    const old = 'ab'.repeat(32);
    await local.put('incoming/events/rotated.pem', `${ca.pem}${(await makeLeaf(ca, `CN=${local.code}`)).pem}`, {
      replaces: old.toUpperCase(),
    });
    await local.settle();
    expect(pipelineEvents('CA Registered', forKey('incoming/events/rotated.pem'))).toEqual([
      expect.objectContaining({ replaces: old }),
    ]);
    expect(await local.resultOf('incoming/events/rotated.pem')).toMatchObject({ outcome: 'ACTIVE', replaces: old });
  });
});

describe('CA Registration Failed', () => {
  it('one failed upload puts one event; its duplicate delivery, failing the same way, none', async () => {
    const ca = await makeCa({ key: P256 });
    await upload('incoming/events/bad.pem', ca, 'not-the-code');
    const [detail, ...more] = pipelineEvents('CA Registration Failed', forKey('incoming/events/bad.pem'));
    expect(more).toEqual([]);
    expect(detail).toMatchObject({
      certificateId: inspectCaFile(ca.pem).certificateId,
      error: { name: 'RegistrationCodeMismatchError', kind: 'business', remedy: expect.stringMatching(/code/) },
      receiptKey: 'results/incoming/events/bad.pem.json',
    });
    const again = await deliverAgain('incoming/events/bad.pem');
    expect(again.status).toBe('FAILED');
    expect(pipelineEvents('CA Registration Failed', forKey('incoming/events/bad.pem'))).toHaveLength(1);
    // New content is a new cause.
    await upload('incoming/events/bad.pem', await makeCa({ key: P256 }), 'still-not-the-code');
    expect(pipelineEvents('CA Registration Failed', forKey('incoming/events/bad.pem'))).toHaveLength(2);
  });
});

describe('CA Expiring', () => {
  it('two reconcile runs with an expiring CA put one event', async () => {
    const ca = await makeCa({ key: P256, notAfter: new Date(Date.now() + 10 * 86_400_000) });
    const certificateId = inspectCaFile(ca.pem).certificateId;
    await upload('incoming/events/expiring.pem', ca);
    await reconcile();
    await reconcile();
    const [detail, ...more] = pipelineEvents('CA Expiring', (d) => d.certificateId === certificateId);
    expect(more).toEqual([]);
    expect(detail).toMatchObject({
      source: { key: 'incoming/events/expiring.pem' },
      thresholdDays: 30,
      daysLeft: expect.any(Number),
    });
    expect(detail?.daysLeft).toBeLessThanOrEqual(10);
  });
});

describe('CA Drift Repaired', () => {
  it('a CA deactivated behind the pipeline is repaired by reconciliation and announced once, with its drift', async () => {
    const ca = await makeCa({ key: P256 });
    const certificateId = inspectCaFile(ca.pem).certificateId;
    await upload('incoming/events/drifted.pem', ca);
    await local.iot.send(new UpdateCACertificateCommand({ certificateId, newStatus: 'INACTIVE' }));
    await reconcile();
    await reconcile();
    const [detail, ...more] = pipelineEvents('CA Drift Repaired', forKey('incoming/events/drifted.pem'));
    expect(more).toEqual([]);
    expect(detail).toMatchObject({ certificateId, trigger: 'reconcile', adopted: true, drift: ['status INACTIVE'] });
    expect(local.stack.emulator.describeCaCertificate(certificateId).certificateDescription?.status).toBe('ACTIVE');
    // The repair is not a second registration.
    expect(pipelineEvents('CA Registered', forKey('incoming/events/drifted.pem'))).toHaveLength(1);
  });
});
