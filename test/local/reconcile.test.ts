/** Reconciliation on the embedded stack: every drift kind repaired, orphans, expiry, concurrency, cost. */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import pMap from 'p-map';
import { TagResourceCommand, UntagResourceCommand, UpdateCACertificateCommand } from '@aws-sdk/client-iot';
import { SFNClient } from '@aws-sdk/client-sfn';
import { useLocalStack } from '../fixtures/stack.ts';
import { inspectCaFile } from '../../functions/core/certificate.ts';
import type { ReconcileReport } from '../../functions/reconcile-report.ts';
import { snapshotKeyFor } from '../../functions/aws/reconcile.ts';
import { RESULT_SCHEMA } from '../../functions/core/results.ts';
import { makeCa, makeLeaf, P256, type Pki } from '../fixtures/pki.ts';

// Objects here are reconciled straight after upload: no grace for an event-started flow.
const local = useLocalStack({ params: { reconcileGraceMinutes: '0' } });
const { put, settle } = local;
const drop = async (key: string, ca: Pki) => {
  await put(key, `${ca.pem}${(await makeLeaf(ca, `CN=${local.code}`)).pem}`);
  await settle();
  return inspectCaFile(ca.pem).certificateId;
};
const reconcile = async (deep = false): Promise<ReconcileReport> => {
  const { done } = local.stack.reconcileEngine.start({ bucket: local.stack.bucket, deep });
  const record = await done;
  expect(record.status).toBe('SUCCEEDED');
  await local.stack.idle();
  return (record.output as { report: ReconcileReport }).report;
};
const ca = (certificateId: string) => local.stack.emulator.describeCaCertificate(certificateId);
const tagsOf = (certificateId: string) =>
  Object.fromEntries(
    (
      local.stack.emulator.listTagsForResource({ resourceArn: local.stack.emulator.caArn(certificateId) }).tags ?? []
    ).map((t) => [t.Key, t.Value]),
  );
const repairFlows = () => local.stack.engine.list().filter((record) => record.name.startsWith('reconcile-'));

/**
 * The S3 requests the reconcile functions sign, as the local S3 receives them: the stack's IAM
 * guard judges each request once, under the function's own role, before s3rver answers it.
 */
const watchS3 = () => {
  const guard = local.stack.iam.guard;
  const check = guard.check;
  const requests: Array<{ action: string; key: string }> = [];
  guard.check = function (this: typeof guard, principal, list, record = true) {
    const first = list[0];
    // record=false is the guard's second look at a 404 (to hide it as a 403), not another request.
    if (record && first?.action.startsWith('s3:') && principal?.sessionName.includes('reconcile'))
      requests.push({ action: first.action, key: first.resource.replace(/^arn:aws:s3:::[^/]+\/?/, '') });
    return check.call(this, principal, list, record);
  };
  return {
    requests,
    stop: () => {
      guard.check = check;
    },
  };
};
/** A reconcile run and the S3 requests it made. */
const reconcileWatched = async (deep = false) => {
  const watch = watchS3();
  try {
    return { report: await reconcile(deep), requests: watch.requests };
  } finally {
    watch.stop();
  }
};
/** Two shallow reconcile runs started together: their reports, and the repair flows started for `file`. */
const twoRunsAtOnce = async (file: string) => {
  const before = repairFlows().length;
  const runs = await Promise.all([
    local.stack.reconcileEngine.start({ bucket: local.stack.bucket, deep: false }).done,
    local.stack.reconcileEngine.start({ bucket: local.stack.bucket, deep: false }).done,
  ]);
  await local.stack.idle();
  return {
    reports: runs.map((run) => (run.output as { report: ReconcileReport }).report),
    started: repairFlows()
      .slice(before)
      .filter((record) => JSON.stringify(record.input).includes(file)),
  };
};
/** The receipts and reports a run read (its own snapshot and working objects aside). */
const receiptsRead = (requests: Array<{ action: string; key: string }>) =>
  requests
    .filter((request) => request.action === 's3:GetObject' && !request.key.startsWith('results/reconcile/'))
    .map((request) => request.key);
const snapshotKey = snapshotKeyFor('results/');
const getText = async (key: string) =>
  (await local.s3.send(new GetObjectCommand({ Bucket: local.stack.bucket, Key: key }))).Body!.transformToString();

describe('reconcile repairs drift', () => {
  it('a deactivated CA (shallow)', async () => {
    const id = await drop('incoming/deactivated.pem', await makeCa());
    await local.iot.send(new UpdateCACertificateCommand({ certificateId: id, newStatus: 'INACTIVE' }));
    const report = await reconcile();
    expect(report.counts.repaired).toBeGreaterThanOrEqual(1);
    expect(ca(id).certificateDescription.status).toBe('ACTIVE');
  });

  it('a detached template (shallow, through the templateName filter)', async () => {
    const id = await drop('incoming/detached.pem', await makeCa());
    await local.iot.send(new UpdateCACertificateCommand({ certificateId: id, removeAutoRegistration: true }));
    expect(ca(id).registrationConfig).toBeUndefined();
    await reconcile();
    expect(ca(id).registrationConfig).toEqual({ templateName: 'iot-ca-local-jitp' });
  });

  it('auto-registration turned off, a tag removed and a tag changed (deep)', async () => {
    const id = await drop('incoming/deep.pem', await makeCa());
    await local.iot.send(new UpdateCACertificateCommand({ certificateId: id, newAutoRegistrationStatus: 'DISABLE' }));
    const arn = local.stack.emulator.caArn(id);
    await local.iot.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ['iot-ca:fingerprint'] }));
    await local.iot.send(
      new TagResourceCommand({
        resourceArn: arn,
        tags: [
          { Key: 'iot-ca:source-key', Value: 'tampered' },
          { Key: 'stray', Value: 'x' },
        ],
      }),
    );
    const shallow = await reconcile(false);
    expect(shallow.counts.deepChecked).toBe(0);
    expect(ca(id).certificateDescription.autoRegistrationStatus).toBe('DISABLE');
    const deep = await reconcile(true);
    expect(deep.counts.deepChecked).toBeGreaterThanOrEqual(1);
    expect(deep.counts.repaired).toBeGreaterThanOrEqual(1);
    expect(ca(id).certificateDescription.autoRegistrationStatus).toBe('ENABLE');
    expect(tagsOf(id)).toMatchObject({ 'iot-ca:fingerprint': id, 'iot-ca:source-key': 'incoming/deep.pem' });
    expect(tagsOf(id).stray).toBeUndefined();
  });

  it('registers an object whose upload event never arrived', async () => {
    const pki = await makeCa();
    local.stack.eventsEnabled = false;
    await put('incoming/missed.pem', `${pki.pem}${(await makeLeaf(pki, `CN=${local.code}`)).pem}`);
    await settle();
    local.stack.eventsEnabled = true;
    const id = inspectCaFile(pki.pem).certificateId;
    expect(() => ca(id)).toThrow(/does not exist/);
    const report = await reconcile();
    expect(report.counts.registered).toBeGreaterThanOrEqual(1);
    expect(ca(id).certificateDescription.status).toBe('ACTIVE');
  });

  it('warns about a CA whose validity ends within 30 days', async () => {
    await drop('incoming/expiring.pem', await makeCa({ key: P256, notAfter: new Date(Date.now() + 10 * 86_400_000) }));
    const report = await reconcile();
    expect(report.counts.expiring).toBeGreaterThanOrEqual(1);
    const findings = JSON.parse(
      await (
        await local.s3.send(new GetObjectCommand({ Bucket: local.stack.bucket, Key: report.findingsKey }))
      ).Body!.transformToString(),
    );
    expect(findings).toContainEqual(
      expect.objectContaining({ kind: 'expiring', key: 'incoming/expiring.pem', daysLeft: expect.any(Number) }),
    );
  });

  it('reports an orphan by default, and under the retire policy hands it to retire-ca once per window', async () => {
    const id = await drop('incoming/orphan.pem', await makeCa());
    // The delete's own event is lost (retire-ca would otherwise retire the CA at once): the orphan
    // is reconcile's to find.
    local.stack.eventsEnabled = false;
    try {
      await local.s3.send(new DeleteObjectCommand({ Bucket: local.stack.bucket, Key: 'incoming/orphan.pem' }));
    } finally {
      local.stack.eventsEnabled = true;
    }
    const report = await reconcile();
    expect(report.counts.orphaned).toBeGreaterThanOrEqual(1);
    expect(ca(id).certificateDescription.status).toBe('ACTIVE');
    expect(local.stack.retireEngine.list().filter((record) => JSON.stringify(record.input).includes(id))).toEqual([]);
    // The core with the other policy, against the same stack (side effects passed in, not env).
    // Imported only now: the handler module reads its configuration when first loaded.
    const { reconcilePlan } = await import('../../functions/reconcile-plan.ts');
    const sfn = new SFNClient({});
    const deps = {
      s3: local.s3,
      iot: local.iot,
      sfn,
      config: {
        registerCaStateMachineArn: local.stack.engine.stateMachineArn,
        retireCaStateMachineArn: local.stack.retireEngine.stateMachineArn,
        expiryWarningDays: 30,
        orphanPolicy: 'retire' as const,
        windowMinutes: 60,
        deepCheckTps: 50,
        deepChunkSize: 100,
        graceMinutes: 0,
      },
      incomingPrefix: 'incoming/',
      resultsPrefix: 'results/',
    };
    // Two runs at once, as overlapping schedules would: retire-ca is started once.
    const plans = await Promise.all([
      reconcilePlan(deps, { bucket: local.stack.bucket, runId: 'policy-test-1' }),
      reconcilePlan(deps, { bucket: local.stack.bucket, runId: 'policy-test-2' }),
    ]);
    sfn.destroy();
    await local.stack.idle();
    expect(plans.reduce((sum, plan) => sum + plan.counts.deactivated, 0)).toBe(1);
    const started = local.stack.retireEngine.list().filter((record) => JSON.stringify(record.input).includes(id));
    expect(started).toHaveLength(1);
    expect(started[0]?.input).toMatchObject({
      certificateId: id,
      reason: 'orphan',
      requestId: expect.stringMatching(/^policy-test-[12]$/),
    });
    expect(ca(id).certificateDescription).toMatchObject({ status: 'INACTIVE', autoRegistrationStatus: 'DISABLE' });
    const retired = JSON.parse(await getText(`results/retired/${id}.json`));
    expect(retired).toMatchObject({ reason: 'orphan', outcome: 'retired', source: { key: 'incoming/orphan.pem' } });

    // Two hours on (another window, so another execution name): the retired receipt, newer than the
    // object's, says the orphan is done. Counted retired, and retire-ca is not started again.
    const laterSfn = new SFNClient({});
    const later = await reconcilePlan(
      { ...deps, sfn: laterSfn, now: () => new Date(Date.now() + 2 * 3_600_000) },
      { bucket: local.stack.bucket, runId: 'policy-test-3' },
    );
    laterSfn.destroy();
    await local.stack.idle();
    expect(later.counts.deactivated).toBe(0);
    expect(later.counts.retired).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(await getText(later.findingsKey))).toContainEqual(
      expect.objectContaining({ kind: 'retired', key: 'incoming/orphan.pem', certificateId: id, present: false }),
    );
    expect(local.stack.retireEngine.list().filter((record) => JSON.stringify(record.input).includes(id))).toHaveLength(
      1,
    );
  });

  it('two reconcile runs at once start each repair once', async () => {
    const id = await drop('incoming/race.pem', await makeCa());
    await local.iot.send(new UpdateCACertificateCommand({ certificateId: id, newStatus: 'INACTIVE' }));
    const { reports, started } = await twoRunsAtOnce('race.pem');
    expect(reports.reduce((sum, r) => sum + r.counts.repaired, 0)).toBe(1);
    expect(reports.reduce((sum, r) => sum + r.counts.alreadyStarted, 0)).toBe(1);
    expect(started).toHaveLength(1);
    expect(ca(id).certificateDescription.status).toBe('ACTIVE');
  });
});

describe('reconcile reads only the receipts that changed', () => {
  it('reads a new receipt once, then not again while it is unchanged', async () => {
    await drop('incoming/snapshot-new.pem', await makeCa());
    const first = await reconcileWatched();
    expect(receiptsRead(first.requests)).toContain('results/incoming/snapshot-new.pem.json');
    const second = await reconcileWatched();
    expect(receiptsRead(second.requests)).toEqual([]);
    expect(second.requests.filter((request) => request.key === snapshotKey).map((r) => r.action)).toEqual([
      's3:GetObject',
    ]);
    expect(second.report.counts.inSync).toBe(first.report.counts.inSync);
  });

  it('reads a changed receipt and acts on it', async () => {
    const id = await drop('incoming/snapshot-changed.pem', await makeCa());
    await reconcile();
    // The flow "failed" on throttling since the last run: the next run must see it and run it again.
    const receipt = await local.resultOf('incoming/snapshot-changed.pem');
    const report = {
      schema: RESULT_SCHEMA,
      outcome: 'FAILED',
      source: receipt.source,
      error: { name: 'ThrottledError', message: 'Rate exceeded', remedy: '', transient: true },
      finishedAt: new Date().toISOString(),
    };
    await put('results/incoming/snapshot-changed.pem.json', JSON.stringify(report));
    const { report: run, requests } = await reconcileWatched();
    expect(receiptsRead(requests)).toEqual(['results/incoming/snapshot-changed.pem.json']);
    expect(run.counts.retried).toBe(1);
    expect((await local.resultOf('incoming/snapshot-changed.pem')).outcome).toBe('ACTIVE');
    expect(ca(id).certificateDescription.status).toBe('ACTIVE');
  });

  it('notices a deleted receipt and registers its object again', async () => {
    await drop('incoming/snapshot-deleted.pem', await makeCa());
    await reconcile();
    await local.s3.send(
      new DeleteObjectCommand({ Bucket: local.stack.bucket, Key: 'results/incoming/snapshot-deleted.pem.json' }),
    );
    const { report, requests } = await reconcileWatched();
    expect(receiptsRead(requests)).toEqual([]);
    expect(report.counts.registered).toBe(1);
    expect((await local.resultOf('incoming/snapshot-deleted.pem')).outcome).toBe('ACTIVE');
    const snapshot = JSON.parse(await getText(snapshotKey));
    expect(Object.keys(snapshot.results)).not.toContain('results/incoming/snapshot-deleted.pem.json');
  });

  it('rebuilds a corrupt or missing snapshot by reading every receipt, and finds the same', async () => {
    await reconcile(); // reads what the repairs above wrote since
    const settled = await reconcileWatched();
    expect(receiptsRead(settled.requests)).toEqual([]);
    const written = await getText(snapshotKey);
    const receipts = Object.keys(JSON.parse(written).results).sort();
    for (const damage of [
      () => put(snapshotKey, written.slice(0, written.length / 2)),
      () => put(snapshotKey, JSON.stringify({ schema: 'iot-ca-pipeline/reconcile-snapshot@0', results: {} })),
      () => local.s3.send(new DeleteObjectCommand({ Bucket: local.stack.bucket, Key: snapshotKey })),
    ]) {
      await damage();
      const rebuilt = await reconcileWatched();
      expect(receiptsRead(rebuilt.requests).sort()).toEqual(receipts);
      expect(rebuilt.report.counts).toEqual(settled.report.counts);
      expect(JSON.parse(await getText(snapshotKey))).toEqual(JSON.parse(written));
    }
  });

  it('lists the receipts around results/reconcile/, never through it', async () => {
    // A receipt filed after "reconcile" in key order (a CA registered from elsewhere, object gone).
    const pki = await makeCa({ key: P256 });
    const { certificateId, certificateArn } = await local.stack.emulator.registerCaCertificate({
      caCertificate: pki.pem,
      certificateMode: 'SNI_ONLY',
      setAsActive: true,
    });
    await local.stack.emulator.flush();
    await put(
      'results/vault/gone.pem.json',
      JSON.stringify({
        ...(await local.resultOf('incoming/snapshot-new.pem')),
        source: { bucket: local.stack.bucket, key: 'vault/gone.pem', etag: 'e' },
        certificateId,
        certificateArn,
      }),
    );
    const before = await reconcileWatched();
    const findings = JSON.parse(await getText(before.report.findingsKey));
    expect(findings).toContainEqual(expect.objectContaining({ kind: 'orphan', key: 'vault/gone.pem', certificateId }));
    // A year of hourly reports under results/reconcile/ would be ~17,500 objects; 1,200 show the point.
    for (let i = 0; i < 1200; i += 100)
      await Promise.all(Array.from({ length: 100 }, (_, j) => put(`results/reconcile/history-${i + j}.json`, '{}')));
    const after = await reconcileWatched();
    const listings = (run: typeof before) => run.requests.filter((r) => r.action === 's3:ListBucket').length;
    expect(listings(after)).toBe(listings(before));
    expect(receiptsRead(after.requests)).toEqual([]);
  }, 60_000);

  it('two runs at once, a receipt gone: one flow registers it, and the snapshot they leave is sound', async () => {
    await drop('incoming/snapshot-race.pem', await makeCa());
    await reconcile();
    await local.s3.send(
      new DeleteObjectCommand({ Bucket: local.stack.bucket, Key: 'results/incoming/snapshot-race.pem.json' }),
    );
    const { reports, started } = await twoRunsAtOnce('snapshot-race.pem');
    expect(reports.reduce((sum, r) => sum + r.counts.registered, 0)).toBe(1);
    expect(reports.reduce((sum, r) => sum + r.counts.alreadyStarted, 0)).toBe(1);
    expect(started).toHaveLength(1);
    // Whichever run wrote last, the next one reads only the receipt the repair wrote since.
    const next = await reconcileWatched();
    expect(receiptsRead(next.requests)).toEqual(['results/incoming/snapshot-race.pem.json']);
    expect(next.report.counts.registered + next.report.counts.repaired).toBe(0);
  });
});

describe('reconcile leaves a retired CA retired', () => {
  it('retired by request with its object still there: not repaired, shallow or deep, and read from listings only', async () => {
    const file = 'incoming/retired-kept.pem';
    const pki = await makeCa();
    const id = await drop(file, pki);
    await reconcile(); // the snapshot learns the receipt: what follows reads none
    const retiredRun = await local.stack.retireEngine.run({ certificateId: id, reason: 'compromised' });
    expect(retiredRun.status, retiredRun.cause).toBe('SUCCEEDED');
    expect(ca(id).certificateDescription).toMatchObject({ status: 'INACTIVE', autoRegistrationStatus: 'DISABLE' });
    // Notification markers beside it (one per cause, ever): never read as receipts.
    for (let i = 0; i < 5; i++) await put(`results/notices/${'0'.repeat(63)}${i}.json`, '{"cause":"test"}');
    const flowsFor = () => repairFlows().filter((record) => JSON.stringify(record.input).includes(file));

    for (const deep of [false, true]) {
      const { report, requests } = await reconcileWatched(deep);
      expect(report.counts.retired).toBeGreaterThanOrEqual(1);
      expect(JSON.parse(await getText(report.findingsKey))).toContainEqual({
        kind: 'retired',
        key: file,
        certificateId: id,
        status: 'INACTIVE',
        present: true,
      });
      expect(flowsFor()).toEqual([]);
      expect(ca(id).certificateDescription).toMatchObject({ status: 'INACTIVE', autoRegistrationStatus: 'DISABLE' });
      // No GET of a receipt, a retired receipt or a notice: listings, and the run's own objects.
      expect(receiptsRead(requests)).toEqual([]);
      expect(
        requests.filter((r) => r.action === 's3:GetObject' && /^results\/(retired|notices)\//.test(r.key)),
      ).toEqual([]);
    }

    // Uploaded again after the retirement: register-ca writes a newer receipt and the CA is live again.
    await put(file, `${pki.pem}${(await makeLeaf(pki, `CN=${local.code}`)).pem}`);
    await settle();
    expect(ca(id).certificateDescription).toMatchObject({ status: 'ACTIVE', autoRegistrationStatus: 'ENABLE' });
    const after = await reconcile();
    const findings = JSON.parse(await getText(after.findingsKey)) as Array<{ key: string }>;
    expect(findings.filter((finding) => finding.key === file)).toEqual([]);
    // And normal rules again: deactivated by hand now, it is drift and is repaired.
    await local.iot.send(new UpdateCACertificateCommand({ certificateId: id, newStatus: 'INACTIVE' }));
    const repaired = await reconcile();
    expect(repaired.counts.repaired).toBeGreaterThanOrEqual(1);
    expect(ca(id).certificateDescription.status).toBe('ACTIVE');
  });
});

describe('reconcile on its schedules', () => {
  it('reads both schedules from serverless.yml and runs them as EventBridge would', async () => {
    const { rateToMs } = await import('../../local/stack.ts');
    expect(rateToMs('rate(1 hour)')).toBe(3_600_000);
    expect(rateToMs('rate(5 minutes)')).toBe(300_000);
    expect(rateToMs('cron(0 12 * * ? *)')).toBeUndefined();
    const rules = local.stack.schedules();
    expect(rules.map((rule) => [rule.everyMs, rule.input])).toEqual([
      [3_600_000, { bucket: local.stack.bucket, deep: false }],
      [86_400_000, { bucket: local.stack.bucket, deep: true }],
    ]);
    const before = local.stack.reconcileEngine.list().length;
    local.stack.runSchedules(100);
    await new Promise((resolve) => setTimeout(resolve, 350));
    local.stack.stopSchedules();
    await local.stack.idle();
    const runs = local.stack.reconcileEngine.list().slice(before);
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs.map((run) => (run.input as { deep: boolean }).deep)).toEqual(expect.arrayContaining([false, true]));
  });
});

describe('reconcile at scale', () => {
  it('1,000 CAs with no drift: no flow started, a handful of IoT calls, all counted in the report', async () => {
    // Seed 1,000 registered CAs with their objects and receipts, as the pipeline would have left them.
    local.stack.eventsEnabled = false;
    const emulator = local.stack.emulator;
    const template = 'iot-ca-local-jitp';
    const pkis = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => makeCa({ key: P256, subject: `CN=scale ${i}` })),
    );
    const seeded = await Promise.all(
      pkis.map(async (pki, i) => {
        const { certificateId, certificateArn } = await emulator.registerCaCertificate({
          caCertificate: pki.pem,
          certificateMode: 'SNI_ONLY',
          setAsActive: true,
          allowAutoRegistration: true,
        });
        emulator.updateCaCertificate(certificateId, {}, { registrationConfig: { templateName: template } });
        const key = `incoming/scale/${i}.pem`;
        const etag = createHash('md5').update(pki.pem).digest('hex');
        const receipt = {
          schema: RESULT_SCHEMA,
          outcome: 'ACTIVE',
          source: { bucket: local.stack.bucket, key, etag },
          certificateId,
          certificateArn,
          certificateMode: 'SNI_ONLY',
          templateName: template,
          tags: {},
          adopted: false,
          subject: `CN=scale ${i}`,
          notAfter: inspectCaFile(pki.pem).notAfter,
          warnings: [],
          finishedAt: new Date().toISOString(),
        };
        return { key, pem: pki.pem, receipt };
      }),
    );
    await emulator.flush();
    // Seeding is set-up, not what is under test: a few connections at a time and patient retries,
    // so that a reset connection on a loaded CI machine does not fail the test before it starts.
    const seeder = new S3Client({ maxAttempts: 8 });
    try {
      await pMap(
        seeded.flatMap(({ key, pem, receipt }) => [
          { Key: key, Body: pem },
          { Key: `results/${key}.json`, Body: JSON.stringify(receipt) },
        ]),
        (object) => seeder.send(new PutObjectCommand({ Bucket: local.stack.bucket, ...object })),
        { concurrency: 8 },
      );
    } finally {
      seeder.destroy();
    }
    local.stack.eventsEnabled = true;
    const flowsBefore = local.stack.engine.list().length;
    const report = await reconcile(false);
    expect(local.stack.engine.list().length).toBe(flowsBefore);
    expect(report.counts.registered + report.counts.repaired).toBe(0);
    expect(report.counts.inSync).toBeGreaterThanOrEqual(1000);
    expect(report.iotCalls.DescribeCACertificate ?? 0).toBe(0);
    expect(report.iotCalls.ListTagsForResource ?? 0).toBe(0);
    expect(report.iotCallsTotal).toBeGreaterThan(0);
    expect(report.iotCallsTotal / report.counts.inSync).toBeLessThanOrEqual(0.02);
  }, 240_000);

  it('1,000 CAs with no drift: listings and a snapshot, no read per CA', async () => {
    // The run above read the 1,000 receipts it had not seen; this one reads none.
    const { report, requests } = await reconcileWatched();
    expect(report.counts.objects).toBeGreaterThanOrEqual(1000);
    expect(report.counts.registered + report.counts.repaired).toBe(0);
    expect(receiptsRead(requests)).toEqual([]);
    expect(requests.length / report.counts.objects).toBeLessThanOrEqual(0.02);
    expect(report.iotCallsTotal / report.counts.objects).toBeLessThanOrEqual(0.02);
  }, 60_000);
});
