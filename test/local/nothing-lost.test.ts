/**
 * Nothing lost, nothing re-run for nothing: a business failure is final until the object changes,
 * a transient one is run again by the next reconciliation, every report names the content it is
 * about (ETag, version), and keys are taken as users write them.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { useLocalStack } from '../fixtures/stack.ts';
import { inspectCaFile } from '../../functions/core/certificate.ts';
import type { ReconcileReport } from '../../functions/reconcile-report.ts';
import { makeCa, makeLeaf, P256 } from '../fixtures/pki.ts';

const local = useLocalStack();
const { put, settle, resultOf } = local;

const reconcile = async (): Promise<ReconcileReport> => {
  const record = await local.stack.reconcileEngine.run({ bucket: local.stack.bucket, deep: false });
  expect(record.status).toBe('SUCCEEDED');
  await local.stack.idle();
  return (record.output as { report: ReconcileReport }).report;
};
/** The register-ca executions whose input names `key`, started since `since` executions. */
const flowsFor = (key: string, since = 0) =>
  local.stack.engine
    .list()
    .slice(since)
    .filter((record) => JSON.stringify(record.input).includes(JSON.stringify(key).slice(1, -1)));
const md5 = (text: string) => createHash('md5').update(text).digest('hex');
const statusOf = (pem: string) =>
  local.stack.emulator.describeCaCertificate(inspectCaFile(pem).certificateId).certificateDescription.status;

describe('a failure on the file itself is final until the object changes', () => {
  it('a leaf certificate refused by LoadCertificate is not registered again by two reconciliations', async () => {
    const leaf = await makeLeaf(await makeCa(), 'CN=not a CA');
    await put('incoming/leaf.pem', leaf.pem, { 'certificate-mode': 'SNI_ONLY' });
    await settle();
    const report = await resultOf('incoming/leaf.pem');
    expect(report).toMatchObject({
      outcome: 'FAILED',
      error: { name: 'NotACaError', transient: false },
      source: { key: 'incoming/leaf.pem', etag: md5(leaf.pem) },
    });
    const before = local.stack.engine.list().length;
    const first = await reconcile();
    const second = await reconcile();
    expect(flowsFor('incoming/leaf.pem', before)).toHaveLength(0);
    expect(first.counts.failed).toBeGreaterThanOrEqual(1);
    expect(second.counts.failed).toBeGreaterThanOrEqual(1);
    expect(first.counts.registered + second.counts.registered + first.counts.retried + second.counts.retried).toBe(0);
  });

  it('a manual execution on a leaf writes a report with the ETag from the bucket, and is not re-run either', async () => {
    const leaf = await makeLeaf(await makeCa(), 'CN=manual leaf');
    local.stack.eventsEnabled = false;
    await put('incoming/manual-leaf.pem', leaf.pem, { 'certificate-mode': 'SNI_ONLY' });
    await settle();
    local.stack.eventsEnabled = true;
    await local.stack.engine.run({ bucket: local.stack.bucket, key: 'incoming/manual-leaf.pem' });
    expect(await resultOf('incoming/manual-leaf.pem')).toMatchObject({
      outcome: 'FAILED',
      source: { etag: md5(leaf.pem) },
    });
    const before = local.stack.engine.list().length;
    await reconcile();
    await reconcile();
    expect(flowsFor('incoming/manual-leaf.pem', before)).toHaveLength(0);
  });
});

describe('a transient failure is never final', () => {
  it('a flow that ran out of retries on 5xx is run again by the next reconciliation, once, and ends ACTIVE', async () => {
    const pki = await makeCa({ key: P256, subject: 'CN=through the storm' });
    local.stack.emulator.faults = { faultRate: 1 };
    try {
      await put('incoming/storm.pem', pki.pem, { 'certificate-mode': 'SNI_ONLY' });
      await settle();
    } finally {
      local.stack.emulator.faults = {};
    }
    expect(await resultOf('incoming/storm.pem')).toMatchObject({
      outcome: 'FAILED',
      error: { name: 'ServiceFaultError', transient: true, remedy: expect.stringMatching(/next reconciliation/) },
      source: { etag: md5(pki.pem) },
    });
    const before = local.stack.engine.list().length;
    const first = await reconcile();
    expect(first.counts.retried).toBe(1);
    expect(flowsFor('incoming/storm.pem', before)).toHaveLength(1);
    expect(await resultOf('incoming/storm.pem')).toMatchObject({ outcome: 'ACTIVE' });
    expect(statusOf(pki.pem)).toBe('ACTIVE');
    const second = await reconcile();
    expect(second.counts.retried).toBe(0);
    expect(flowsFor('incoming/storm.pem', before)).toHaveLength(1);
  });

  it.each([
    ['the IoT quota outlasting all 100 throttling retries', 'ThrottledError', 'quota-exhausted'],
    ['a Lambda that could not be invoked', 'Lambda.TooManyRequestsException', 'lambda-throttled'],
  ])('%s (%s) is run again, and two overlapping reconciliations start it once', async (_, errorName, name) => {
    const pki = await makeCa({ key: P256, subject: `CN=${name}` });
    const key = `incoming/${name}.pem`;
    local.stack.engine.beforeTask = (state, record) => {
      if (state === 'RegisterCa' && JSON.stringify(record.input).includes(name))
        throw Object.assign(new Error('Rate exceeded'), { name: errorName });
    };
    try {
      await put(key, pki.pem, { 'certificate-mode': 'SNI_ONLY' });
      await settle();
    } finally {
      local.stack.engine.beforeTask = undefined;
    }
    expect(await resultOf(key)).toMatchObject({
      outcome: 'FAILED',
      error: { name: errorName, transient: true },
      source: { etag: md5(pki.pem) },
    });
    const before = local.stack.engine.list().length;
    const runs = await Promise.all([
      local.stack.reconcileEngine.run({ bucket: local.stack.bucket, deep: false }),
      local.stack.reconcileEngine.run({ bucket: local.stack.bucket, deep: false }),
    ]);
    await local.stack.idle();
    const counts = runs.map((run) => (run.output as { report: ReconcileReport }).report.counts);
    expect(counts.reduce((sum, c) => sum + c.retried, 0)).toBe(1);
    expect(flowsFor(key, before)).toHaveLength(1);
    expect(statusOf(pki.pem)).toBe('ACTIVE');
  });
});

describe('a burst still in flight is not started twice', () => {
  it('an upload younger than reconcileGraceMinutes (60) with no result yet is left to its own flow', async () => {
    const pki = await makeCa({ key: P256, subject: 'CN=in flight' });
    // As if its event-started flow were still waiting out the quota: no result yet.
    local.stack.eventsEnabled = false;
    await put('incoming/in-flight.pem', pki.pem, { 'certificate-mode': 'SNI_ONLY' });
    await settle();
    local.stack.eventsEnabled = true;
    const before = local.stack.engine.list().length;
    const report = await reconcile();
    expect(report.counts.pending).toBe(1);
    expect(report.counts.registered).toBe(0);
    expect(flowsFor('incoming/in-flight.pem', before)).toHaveLength(0);
    // Out of the test's way: the keys below expect a reconciliation with nothing pending.
    await local.stack.engine.run({ bucket: local.stack.bucket, key: 'incoming/in-flight.pem' });
  });
});

describe('object keys as users write them', () => {
  const keys = [
    'incoming/factory root ca.pem',
    'incoming/a+b.pem',
    'incoming/100%.pem',
    'incoming/100%25 literal.pem',
    'incoming/tenant=acme/ca.pem',
    'incoming/Usine d’Évry — 東京.pem',
    'incoming/WINDOWS-CA.PEM',
    'incoming/WINDOWS-CA.CRT',
  ];

  it.each(keys)('%s: dropped, ACTIVE, its receipt under the key as written, in sync on reconcile', async (key) => {
    const pki = await makeCa({ key: P256, subject: `CN=${key.slice(9, 40)}` });
    await put(key, pki.pem, { 'certificate-mode': 'SNI_ONLY' });
    await settle();
    expect(await resultOf(key)).toMatchObject({
      outcome: 'ACTIVE',
      source: { key, etag: md5(pki.pem) },
      tags: expect.any(Object),
    });
    expect(statusOf(pki.pem)).toBe('ACTIVE');
    const before = local.stack.engine.list().length;
    await reconcile();
    expect(
      local.stack.engine
        .list()
        .slice(before)
        .filter((record) => record.name.startsWith('reconcile-')),
    ).toHaveLength(0);
  });
});
