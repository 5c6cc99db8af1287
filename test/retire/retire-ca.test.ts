/**
 * retire-ca end to end on the embedded stack (local IAM enforced, the local bus delivering S3's
 * Object Deleted and the pipeline's own events): retire by request and by deleting the object,
 * 0 and 1,000 device certificates under the quota, duplicate events, delete-after with the Wait
 * compressed, cancelled by a re-upload, revocation resumed after a crash.
 */
import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { IoTClient } from '@aws-sdk/client-iot';
import { useLocalStack } from '../fixtures/stack.ts';
import { retireHelpers } from '../fixtures/retire.ts';
import { makeCa, makeLeaf, P256, type Pki } from '../fixtures/pki.ts';
import { inspectCaFile } from '../../functions/core/certificate.ts';
import { RETIRE_TAGS } from '../../functions/core/retire.ts';
import { revokeDeviceCertificates } from '../../functions/revoke-device-certificates.ts';
import { confirmDelete } from '../../functions/confirm-delete.ts';
import { iotError } from '../../local/iot/errors.ts';
import type { ExecutionRecord } from '../../local/engine.ts';

const Ajv2020 = createRequire(import.meta.url)('ajv/dist/2020') as new (
  options?: object,
) => { compile(schema: object): ((data: unknown) => boolean) & { errors?: unknown } };
const validReceipt = new Ajv2020({ strict: false }).compile(
  JSON.parse(readFileSync('schemas/retired.schema.json', 'utf8')),
);

const TPS = 40;
// One day of delete-after is one second here; listing and revoking run at 40 TPS against a 40 TPS quota.
const local = useLocalStack({
  params: { retireSecondsPerDay: '1', retireTps: String(TPS) },
  faults: { tps: { ListCertificatesByCA: TPS, UpdateCertificate: TPS } },
});
const { put, settle } = local;

const { drop, describe_ } = retireHelpers(local);
const exists = (id: string) => {
  try {
    local.stack.emulator.describeCaCertificate(id);
    return true;
  } catch {
    return false;
  }
};
const getJson = async (key: string) =>
  JSON.parse(
    await (
      await local.s3.send(new GetObjectCommand({ Bucket: local.stack.bucket, Key: key }))
    ).Body!.transformToString(),
  );
const receiptOf = (id: string) => getJson(`results/retired/${id}.json`);
/** Waits (up to 3 s) for the receipt that says the CA is retired, before its policy goes on. */
const untilRetired = async (id: string): Promise<void> => {
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    const receipt = await receiptOf(id).catch(() => undefined);
    if (receipt?.outcome === 'retired') return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};
const retiredEvents = (id: string) =>
  local.stack.bus.events.filter(
    (event) =>
      event['detail-type'] === 'CA Retired' && (event.detail as { certificateId?: string }).certificateId === id,
  );
const retire = (input: unknown, name?: string): Promise<ExecutionRecord> => local.stack.retireEngine.run(input, name);
/** One retire-ca run whose Lambda host is lost as `state` starts. */
const retireLosingHostAt = async (state: string, input: unknown): Promise<ExecutionRecord> => {
  const engine = local.stack.retireEngine;
  engine.beforeTask = (next) => {
    if (next === state) throw Object.assign(new Error('host lost'), { name: 'HostLost' });
  };
  try {
    return await retire(input);
  } finally {
    engine.beforeTask = undefined;
  }
};
const deviceCerts = (caId: string) =>
  [
    ...(
      local.stack.emulator.devices.certificates as unknown as {
        records: Map<string, { certificateId: string; caCertificateId?: string; status: string }>;
      }
    ).records.values(),
  ].filter((record) => record.caCertificateId === caId);
/**
 * `count` device certificates of `ca`, registered ACTIVE as JITP would have left them, or then
 * put in transfer to another account (PENDING_TRANSFER: IoT refuses to change their status).
 */
const seedDevices = async (ca: Pki, count: number, status: 'ACTIVE' | 'PENDING_TRANSFER' = 'ACTIVE') => {
  const certificates = local.stack.emulator.devices.certificates;
  for (let i = 0; i < count; i++) {
    const leaf = await makeLeaf(ca, `CN=device-${i}`);
    const { certificateId } = certificates.register({}, { certificatePem: leaf.pem, status: 'ACTIVE' });
    if (status !== 'ACTIVE') certificates.setStatus(certificateId, status);
  }
};
const tag = (id: string, tags: Record<string, string>) =>
  local.stack.emulator.tagResource({
    resourceArn: local.stack.emulator.caArn(id),
    tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
  });
const deleteObject = (key: string) => local.s3.send(new DeleteObjectCommand({ Bucket: local.stack.bucket, Key: key }));
const retireDenials = () =>
  local.stack.iam.guard.denials.filter((denial) =>
    /retire|Retire|DeviceCertificates|confirmDelete|recordRetired/i.test(JSON.stringify(denial)),
  );
const throttled = (operation: 'ListCertificatesByCA' | 'UpdateCertificate') =>
  (local.stack.emulator.calls.get(operation) ?? 0) - (local.stack.emulator.admitted.get(operation) ?? 0);

describe('retire-ca by request', () => {
  it('a CA with no device certificates: INACTIVE, auto-registration off, a valid receipt, one CA Retired', async () => {
    const id = await drop('incoming/req-zero.pem', await makeCa({ key: P256 }));
    const record = await retire({ certificateId: id, reason: 'compromised' });
    expect(record.status, record.cause).toBe('SUCCEEDED');
    expect(describe_(id)).toMatchObject({ status: 'INACTIVE', autoRegistrationStatus: 'DISABLE' });
    const receipt = await receiptOf(id);
    expect(validReceipt(receipt), JSON.stringify(validReceipt.errors)).toBe(true);
    expect(receipt).toMatchObject({
      schema: 'iot-ca-pipeline/retired@1',
      certificateId: id,
      reason: 'compromised',
      policy: 'deactivate',
      outcome: 'retired',
      deviceCertificates: { total: 0, byStatus: {} },
      source: { bucket: local.stack.bucket, key: 'incoming/req-zero.pem' },
      executionId: record.executionArn,
    });
    expect(record.output).toMatchObject({ outcome: 'retired', receiptKey: `results/retired/${id}.json` });
    const events = retiredEvents(id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      source: 'iot-ca-pipeline',
      resources: [receipt.certificateArn],
      detail: { reason: 'compromised', outcome: 'retired', receiptKey: `results/retired/${id}.json` },
    });

    // Again: the CA is already retired under the same policy; nothing is done and nothing published.
    const again = await retire({ certificateId: id, reason: 'compromised' });
    expect(again.output).toMatchObject({ proceed: false, outcome: 'already-retired' });
    expect(retiredEvents(id)).toHaveLength(1);
    expect(retireDenials()).toEqual([]);
  });

  it('1,000 device certificates listed, all pages, counted by status, under the ListCertificatesByCA quota', async () => {
    const ca = await makeCa({ key: P256 });
    const id = await drop('incoming/thousand.pem', ca);
    await seedDevices(ca, 1000);
    for (const record of deviceCerts(id).slice(0, 10))
      local.stack.emulator.devices.certificates.update(record.certificateId, {
        newStatus: 'REVOKED',
      });
    const before = throttled('ListCertificatesByCA');
    const record = await retire({ certificateId: id, reason: 'rotated' });
    expect(record.status, record.cause).toBe('SUCCEEDED');
    const receipt = await receiptOf(id);
    expect(receipt.deviceCertificates).toEqual({ total: 1000, byStatus: { ACTIVE: 990, REVOKED: 10 } });
    expect(throttled('ListCertificatesByCA') - before).toBe(0);
    expect(describe_(id)).toMatchObject({ status: 'INACTIVE', autoRegistrationStatus: 'DISABLE' });
    // Deactivating does not revoke: the devices' certificates stay as they were (AWS documents it).
    expect(deviceCerts(id).filter((cert) => cert.status === 'ACTIVE')).toHaveLength(990);
  });

  it('a CA AWS IoT does not have ends cleanly: not-found, no receipt, no event', async () => {
    const id = 'c'.repeat(64);
    const record = await retire({ certificateId: id });
    expect(record.status).toBe('SUCCEEDED');
    expect(record.output).toMatchObject({ proceed: false, outcome: 'not-found' });
    expect(retiredEvents(id)).toEqual([]);
    await expect(receiptOf(id)).rejects.toMatchObject({ name: 'NoSuchKey' });
  });

  it("a CA registered outside the pipeline (no provenance tags): its bucket is CA_BUCKET, the stack's", async () => {
    const { certificateId: id } = await local.stack.emulator.registerCaCertificate({
      caCertificate: (await makeCa({ key: P256 })).pem,
      certificateMode: 'SNI_ONLY',
      setAsActive: true,
      allowAutoRegistration: true,
    });
    await local.stack.emulator.flush();
    const record = await retire({ certificateId: id, reason: 'outside' });
    expect(record.status, `${record.error}: ${record.cause}`).toBe('SUCCEEDED');
    expect(describe_(id)).toMatchObject({ status: 'INACTIVE', autoRegistrationStatus: 'DISABLE' });
    const receipt = await receiptOf(id);
    expect(validReceipt(receipt), JSON.stringify(validReceipt.errors)).toBe(true);
    expect(receipt).toMatchObject({ certificateId: id, reason: 'outside', outcome: 'retired' });
    expect(receipt.source).toBeUndefined();
    expect(retiredEvents(id)).toHaveLength(1);
    expect(retireDenials()).toEqual([]);
  });

  it('bad input fails the execution with InvalidInputError', async () => {
    const record = await retire({ certificateId: 'nope' });
    expect(record.status).toBe('FAILED');
    expect(record.error).toBe('InvalidInputError');
  });
});

describe('retire-ca from a deleted object', () => {
  it('deleting the object retires its CA through CaDeletedRule', async () => {
    const id = await drop('incoming/deleted.pem', await makeCa({ key: P256 }));
    await deleteObject('incoming/deleted.pem');
    await settle();
    expect(describe_(id)).toMatchObject({ status: 'INACTIVE', autoRegistrationStatus: 'DISABLE' });
    expect(await receiptOf(id)).toMatchObject({
      reason: 'object-deleted',
      outcome: 'retired',
      source: { key: 'incoming/deleted.pem' },
    });
    expect(retiredEvents(id)).toHaveLength(1);
  });

  it('duplicate events: two executions, the CA retired and CA Retired published exactly once', async () => {
    const id = await drop('incoming/dup.pem', await makeCa({ key: P256 }));
    // The delete's own event is held back: the test delivers it twice itself, as EventBridge may.
    local.stack.eventsEnabled = false;
    try {
      await deleteObject('incoming/dup.pem');
    } finally {
      local.stack.eventsEnabled = true;
    }
    const event = {
      version: '0',
      id: 'e1',
      source: 'aws.s3',
      'detail-type': 'Object Deleted',
      account: '000000000000',
      time: new Date().toISOString(),
      region: 'us-east-1',
      resources: [],
      detail: {
        version: '0',
        bucket: { name: local.stack.bucket },
        object: { key: 'incoming/dup.pem', 'version-id': 'marker-1', sequencer: '00A1' },
        'deletion-type': 'Delete Marker Created',
        reason: 'DeleteObject',
      },
    };
    const records = await Promise.all([retire(event), retire(event)]);
    expect(records.map((record) => record.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    const outcomes = records.map((record) => (record.output as { outcome: string }).outcome).sort();
    expect(outcomes).toEqual(['duplicate', 'retired']);
    expect(retiredEvents(id)).toHaveLength(1);
    // A third delivery, after the first is done, changes nothing either.
    const third = await retire(event);
    expect((third.output as { outcome: string }).outcome).toMatch(/^(duplicate|already-retired)$/);
    expect(retiredEvents(id)).toHaveLength(1);
  });

  it('an object never registered ends as not-registered', async () => {
    await put('incoming/never.pem', 'not a certificate');
    await settle();
    await deleteObject('incoming/never.pem');
    await settle();
    const record = local.stack.retireEngine
      .list()
      .find((execution) => JSON.stringify(execution.input).includes('incoming/never.pem'));
    expect(record?.output).toMatchObject({ proceed: false, outcome: 'not-registered' });
  });
});

describe('delete-after', () => {
  it('waits (compressed: a day is a second here), then deletes the INACTIVE CA', async () => {
    // The per-CA policy as the operator sets it: tags in the object's metadata, carried by the CA.
    const ca = await makeCa({ key: P256 });
    await put('incoming/delete-after.pem', `${ca.pem}${(await makeLeaf(ca, `CN=${local.code}`)).pem}`, {
      tags: `${RETIRE_TAGS.policy}=delete-after&${RETIRE_TAGS.deleteAfterDays}=2&team=pki`,
    });
    await settle();
    const id = inspectCaFile(ca.pem).certificateId;
    expect(describe_(id).status).toBe('ACTIVE');
    const started = Date.now();
    await deleteObject('incoming/delete-after.pem');
    await settle();
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(exists(id)).toBe(false);
    const receipt = await receiptOf(id);
    expect(validReceipt(receipt), JSON.stringify(validReceipt.errors)).toBe(true);
    expect(receipt).toMatchObject({ policy: 'delete-after', outcome: 'deleted', deleteAfter: expect.any(String) });
    expect(Date.parse(receipt.deleteAfter) - Date.parse(receipt.startedAt)).toBe(2 * 86_400_000);
    expect(retiredEvents(id)).toHaveLength(1);
  });

  it('re-uploading the object during the Wait cancels the delete: the CA is ACTIVE again', async () => {
    const ca = await makeCa({ key: P256 });
    const id = await drop('incoming/come-back.pem', ca);
    tag(id, { [RETIRE_TAGS.policy]: 'delete-after', [RETIRE_TAGS.deleteAfterDays]: '4' });
    await deleteObject('incoming/come-back.pem');
    // Once the CA is retired (receipt written), the operator changes their mind.
    await untilRetired(id);
    expect(describe_(id).status).toBe('INACTIVE');
    await put('incoming/come-back.pem', `${ca.pem}${(await makeLeaf(ca, `CN=${local.code}`)).pem}`);
    await settle();
    expect(exists(id)).toBe(true);
    expect(describe_(id).status).toBe('ACTIVE');
    expect(await receiptOf(id)).toMatchObject({
      outcome: 'cancelled',
      detail: expect.stringMatching(/ACTIVE again|uploaded again/),
    });
  });
});

describe('delete-after started by request (retire, rotate: the object stays)', () => {
  it('deletes the CA though its object never left the bucket', async () => {
    const id = await drop('incoming/stays.pem', await makeCa({ key: P256 }));
    const record = await retire({ certificateId: id, reason: 'rotated', policy: 'delete-after', deleteAfterDays: 1 });
    expect(record.status, record.cause).toBe('SUCCEEDED');
    expect(exists(id)).toBe(false);
    expect(await receiptOf(id)).toMatchObject({
      outcome: 'deleted',
      source: { bucket: local.stack.bucket, key: 'incoming/stays.pem' },
    });
  });

  it('a re-upload during the Wait still cancels: the CA is ACTIVE again', async () => {
    const ca = await makeCa({ key: P256 });
    const id = await drop('incoming/stays-back.pem', ca);
    const running = retire({ certificateId: id, policy: 'delete-after', deleteAfterDays: 4 });
    await untilRetired(id);
    expect(describe_(id).status).toBe('INACTIVE');
    await put('incoming/stays-back.pem', `${ca.pem}${(await makeLeaf(ca, `CN=${local.code}`)).pem}`);
    await settle();
    const record = await running;
    expect(record.status, record.cause).toBe('SUCCEEDED');
    expect(exists(id)).toBe(true);
    expect(describe_(id).status).toBe('ACTIVE');
    expect(await receiptOf(id)).toMatchObject({ outcome: 'cancelled', detail: expect.stringMatching(/ACTIVE again/) });
  });

  it('ConfirmDelete cancels for an object written since the start (LastModified, whole seconds), not before', async () => {
    const ca = await makeCa({ key: P256 });
    const id = await drop('incoming/dated.pem', ca);
    const record = await retire({ certificateId: id, reason: 'rotated' });
    expect(record.status, record.cause).toBe('SUCCEEDED');
    expect(describe_(id).status).toBe('INACTIVE');
    // Written again without its flow having run yet (the CA still INACTIVE): only the date tells.
    await local.s3.send(new PutObjectCommand({ Bucket: local.stack.bucket, Key: 'incoming/dated.pem', Body: ca.pem }));
    const written = Date.now();
    const plan = { ...(await receiptOf(id)), proceed: true, policy: 'delete-after' as const } as never as {
      source: { bucket: string; key: string };
    };
    const iot = new IoTClient({});
    const check = (startedAt: string, cause = 'request:dated') =>
      confirmDelete(iot, local.s3, {
        plan: {
          ...(plan as object),
          cause,
          deleteAfterDays: 1,
          deleteAfterSeconds: 1,
          revokeDevices: false,
          graceSeconds: 0,
        } as never,
        startedAt,
      });
    // Started well before the write: came back, cancelled, and the detail says what was found.
    const before = await check(new Date(written - 10_000).toISOString());
    expect(before).toMatchObject({ delete: false, outcome: 'cancelled' });
    expect(before.detail).toMatch(/uploaded again \(LastModified .*, retirement started /);
    // Started after the write (the object left in place by retire or rotate): deleted.
    const after = await check(new Date(written + 2_000).toISOString());
    expect(after).toMatchObject({ delete: true });
    expect(after.detail).toMatch(/still there, unchanged since before the retirement started/);
    // S3 keeps whole seconds: written in the start's own second reads as left in place, the next second as since.
    const lastModified = (
      await local.s3.send(new HeadObjectCommand({ Bucket: local.stack.bucket, Key: 'incoming/dated.pem' }))
    ).LastModified!.getTime();
    expect(await check(new Date(lastModified).toISOString())).toMatchObject({ delete: true });
    expect(await check(new Date(lastModified - 1).toISOString())).toMatchObject({ outcome: 'cancelled' });
    // Started by the object's delete: any object there came back, whatever its date.
    expect(await check(new Date(written + 2_000).toISOString(), 's3-delete:incoming/dated.pem:v1')).toMatchObject({
      outcome: 'cancelled',
    });
    iot.destroy();
  });

  it('a refused DeleteCACertificate on a CA that is not ACTIVE is recorded with its cause, not as "ACTIVE again"', async () => {
    const id = await drop('incoming/refused.pem', await makeCa({ key: P256 }));
    const emulator = local.stack.emulator as unknown as { deleteCaCertificate: (id: string) => unknown };
    const original = emulator.deleteCaCertificate;
    let refusals = 0;
    emulator.deleteCaCertificate = () => {
      refusals += 1;
      throw iotError('CertificateStateException', 'The certificate operation is not allowed (injected).');
    };
    try {
      const record = await retire({ certificateId: id, policy: 'delete-after', deleteAfterDays: 1 });
      expect(record.status, record.cause).toBe('SUCCEEDED');
    } finally {
      emulator.deleteCaCertificate = original;
    }
    expect(refusals).toBeGreaterThanOrEqual(1);
    expect(exists(id)).toBe(true);
    expect(describe_(id).status).toBe('INACTIVE');
    const receipt = await receiptOf(id);
    expect(validReceipt(receipt), JSON.stringify(validReceipt.errors)).toBe(true);
    expect(receipt.outcome).toBe('retired');
    expect(receipt.detail).toMatch(/refused .*not allowed \(injected\).*INACTIVE: not deleted/);
    expect(receipt.detail).not.toMatch(/ACTIVE again/);
  });
});

describe('revocation', () => {
  it('revokeDevices: every device certificate REVOKED under the UpdateCertificate quota, those IoT refuses counted, in the receipt', async () => {
    const ca = await makeCa({ key: P256 });
    const id = await drop('incoming/revoke.pem', ca);
    await seedDevices(ca, 60);
    await seedDevices(ca, 2, 'PENDING_TRANSFER');
    const before = throttled('UpdateCertificate');
    const record = await retire({ certificateId: id, reason: 'compromised', revokeDevices: true });
    expect(record.status, record.cause).toBe('SUCCEEDED');
    expect(
      deviceCerts(id)
        .filter((cert) => cert.status !== 'REVOKED')
        .map((cert) => cert.status),
    ).toEqual(['PENDING_TRANSFER', 'PENDING_TRANSFER']);
    expect(throttled('UpdateCertificate') - before).toBe(0);
    expect(await receiptOf(id)).toMatchObject({
      outcome: 'retired',
      deviceCertificates: { total: 62, byStatus: { ACTIVE: 60, PENDING_TRANSFER: 2 } },
      revoked: { count: 60, refused: 2, complete: true },
    });
    expect(retiredEvents(id)).toHaveLength(1);
  });

  it('a retirement that fails before Deactivate gives its claim back: the CA stays ACTIVE, the rerun retires it', async () => {
    const ca = await makeCa({ key: P256 });
    const id = await drop('incoming/early-failure.pem', ca);
    const input = { certificateId: id, reason: 'manual', requestId: 'ticket-7' };
    const first = await retireLosingHostAt('ListDeviceCertificates', input);
    expect(first.status).toBe('FAILED');
    expect(first.events.map((event) => event.state?.name)).toContain('ReleaseClaim');
    expect(describe_(id).status).toBe('ACTIVE');
    const second = await retire(input);
    expect(second.status, second.cause).toBe('SUCCEEDED');
    expect(describe_(id).status).toBe('INACTIVE');
    expect(retiredEvents(id)).toHaveLength(1);
  });

  it('a retirement that fails after announcing keeps its claim; rerun, it takes it over and is not announced twice', async () => {
    const ca = await makeCa({ key: P256 });
    const id = await drop('incoming/rerun.pem', ca);
    await seedDevices(ca, 3);
    const input = { certificateId: id, reason: 'compromised', revokeDevices: true, requestId: 'ticket-42' };
    const first = await retireLosingHostAt('RevokeDeviceCertificates', input);
    expect(first.status).toBe('FAILED');
    // Failed after Deactivate: the claim stays (docs/adr/0031), and the rerun takes it over.
    expect(first.events.map((event) => event.state?.name)).not.toContain('ReleaseClaim');
    expect(retiredEvents(id)).toHaveLength(1);
    const second = await retire(input);
    expect(second.status, second.cause).toBe('SUCCEEDED');
    expect(deviceCerts(id).every((cert) => cert.status === 'REVOKED')).toBe(true);
    expect(retiredEvents(id)).toHaveLength(1);
    expect(await receiptOf(id)).toMatchObject({ cause: 'request:ticket-42', revoked: { count: 3, complete: true } });
  });

  it('a pass that stops goes on from the page it stopped on, not the first; a marker IoT refuses lists from the start', async () => {
    const ca = await makeCa({ key: P256 });
    const id = await drop('incoming/pages.pem', ca);
    // 260 over two pages, 3 of them pending transfer: IoT would refuse to revoke those.
    await seedDevices(ca, 257);
    await seedDevices(ca, 3, 'PENDING_TRANSFER');
    const iot = new IoTClient({});
    let updates = 0;
    let listings = 0;
    iot.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'UpdateCertificateCommand') updates += 1;
        if (context.commandName === 'ListCertificatesByCACommand') listings += 1;
        return next(args);
      },
      { step: 'initialize', name: 'count' },
    );
    // The budget runs out after 252 revocations: a whole page and part of the second.
    let checks = 0;
    const now = () => (checks++ <= 252 ? 0 : Number.MAX_SAFE_INTEGER);
    const first = await revokeDeviceCertificates({ iot, tps: TPS, budgetMs: 60_000, now }, { certificateId: id });
    expect(first).toMatchObject({ revoked: 252, remaining: true, listed: 260, marker: expect.any(String) });
    // The next pass lists the second page only, skips what is revoked there and revokes the rest.
    const second = await revokeDeviceCertificates(
      { iot, tps: TPS, budgetMs: 60_000 },
      { certificateId: id, revoked: first.revoked, refused: first.refused, marker: first.marker },
    );
    // Each pending transfer counted once, whichever page it was on; never asked.
    expect(second).toMatchObject({ revoked: 257, refused: 3, remaining: false, listed: 10, marker: null });
    expect(updates).toBe(257);
    // Three pages listed in all: two by the first pass, one by the second (it was four).
    expect(listings).toBe(3);
    expect(deviceCerts(id).filter((cert) => cert.status !== 'REVOKED')).toHaveLength(3);
    // A marker IoT no longer takes (InvalidRequestException): listed again from the first page.
    const again = await revokeDeviceCertificates(
      { iot, tps: TPS, budgetMs: 60_000 },
      { certificateId: id, revoked: 257, marker: 'bm90IGEgbWFya2Vy!' },
    );
    expect(again).toMatchObject({ revoked: 257, refused: 3, remaining: false, listed: 260 });
    expect(updates).toBe(257);
    iot.destroy();
  });

  it('a pass that crashes mid-way is resumed by the next: each certificate revoked once', async () => {
    const ca = await makeCa({ key: P256 });
    const id = await drop('incoming/crash.pem', ca);
    await seedDevices(ca, 20);
    const iot = new IoTClient({});
    let updates = 0;
    let crashAfter = 8;
    iot.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'UpdateCertificateCommand') {
          if (updates >= crashAfter) throw Object.assign(new Error('Lambda crashed'), { name: 'Sandbox.Timedout' });
          updates += 1;
        }
        return next(args);
      },
      { step: 'initialize', name: 'crash' },
    );
    const deps = { iot, tps: TPS, budgetMs: 60_000 };
    await expect(revokeDeviceCertificates(deps, { certificateId: id })).rejects.toThrow('Lambda crashed');
    expect(deviceCerts(id).filter((cert) => cert.status === 'REVOKED')).toHaveLength(8);
    crashAfter = Number.POSITIVE_INFINITY;
    const resumed = await revokeDeviceCertificates(deps, { certificateId: id });
    expect(resumed).toMatchObject({ revoked: 12, remaining: false, listed: 20, refused: 0 });
    expect(updates).toBe(20);
    expect(deviceCerts(id).every((cert) => cert.status === 'REVOKED')).toBe(true);
    // A time budget spent stops a pass with work left, which the state machine loops on.
    const ca2 = await makeCa({ key: P256 });
    const id2 = await drop('incoming/budget.pem', ca2);
    await seedDevices(ca2, 10);
    const first = await revokeDeviceCertificates({ iot, tps: 2, budgetMs: 0 }, { certificateId: id2 });
    expect(first).toMatchObject({ revoked: 2, remaining: true });
    const rest = await revokeDeviceCertificates(
      { iot, tps: TPS, budgetMs: 60_000 },
      { certificateId: id2, revoked: 2 },
    );
    expect(rest).toMatchObject({ revoked: 10, remaining: false });
    iot.destroy();
  });
});
