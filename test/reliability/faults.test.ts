/**
 * Faults and load on the embedded stack, using the IoT emulator's fault settings: the pipeline
 * keeps working under throttling and 5xx, never duplicates a CA, never leaves one live but
 * half-configured, and survives an IoT restart mid-run.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { BusEvent } from '../../local/events/bus.ts';
import { useLocalStack } from '../fixtures/stack.ts';
import { inspectCaFile } from '../../functions/core/certificate.ts';
import { makeCa, makeLeaf, P256, type Pki } from '../fixtures/pki.ts';

const published: BusEvent[] = [];
const local = useLocalStack({ onBusEvent: (event) => published.push(event) });
/** The `CA Registered` events published for one CA. */
const registeredEvents = (pki: Pki) =>
  published.filter(
    (event) =>
      event['detail-type'] === 'CA Registered' &&
      (event.detail as { certificateId?: string }).certificateId === inspectCaFile(pki.pem).certificateId,
  );
const { put, settle } = local;
afterEach(() => {
  local.stack.emulator.faults = {};
});

const flowsFor = (prefix: string) =>
  local.stack.engine.list().filter((record) => JSON.stringify(record.input).includes(prefix));
const caOf = (pki: Pki) =>
  local.stack.emulator.snapshot().find((ca) => ca.certificateId === inspectCaFile(pki.pem).certificateId);
const converged = (pki: Pki, key: string) =>
  expect(caOf(pki)).toMatchObject({
    status: 'ACTIVE',
    autoRegistrationStatus: 'ENABLE',
    registrationConfig: { templateName: 'iot-ca-local-jitp' },
    tags: expect.objectContaining({ 'iot-ca:source-key': key }),
  });

describe('under faults and load', () => {
  it('200 CAs dropped at once with 30% throttling and 5% 5xx on every IoT call all end ACTIVE, none duplicated, none failed', async () => {
    const pkis = await Promise.all(
      Array.from({ length: 200 }, (_, i) => makeCa({ key: P256, subject: `CN=burst ${i}` })),
    );
    const bodies = await Promise.all(
      pkis.map(async (pki, i) =>
        i % 2 === 0 ? `${pki.pem}${(await makeLeaf(pki, `CN=${local.code}`)).pem}` : pki.pem,
      ),
    );
    const before = local.stack.emulator.snapshot().length;
    local.stack.emulator.faults = { throttleRate: 0.3, faultRate: 0.05 };
    for (let i = 0; i < pkis.length; i += 50) {
      await Promise.all(
        bodies
          .slice(i, i + 50)
          .map((body, j) =>
            put(`incoming/burst/${i + j}.pem`, body, (i + j) % 2 === 0 ? {} : { 'certificate-mode': 'SNI_ONLY' }),
          ),
      );
    }
    await settle();
    const flows = flowsFor('incoming/burst/');
    expect(flows).toHaveLength(200);
    expect(flows.filter((flow) => flow.status !== 'SUCCEEDED').map((flow) => flow.error)).toEqual([]);
    expect(local.stack.emulator.snapshot().length - before).toBe(200);
    for (const [i, pki] of pkis.entries()) converged(pki, `incoming/burst/${i}.pem`);
    // The faults were real: retries happened.
    expect(
      flows.flatMap((flow) => flow.events).filter((event) => event.type === 'StateRetried').length,
    ).toBeGreaterThan(50);
    // The call that makes a fresh CA live is RegisterCACertificate itself (docs/adr/0027): its
    // throttling and 5xx were retried by RegisterCa's Retry, and no fresh CA needed Activate.
    const events = flows.flatMap((flow) => flow.events);
    const registerFailures = events
      .filter((event) => event.type === 'StateFailed' && event.state?.name === 'RegisterCa')
      .map((event) => event.Error);
    expect(registerFailures).toContain('ThrottledError');
    expect(registerFailures.filter((name) => !/^(ThrottledError|ServiceFaultError)$/.test(name ?? ''))).toEqual([]);
    expect(events.filter((event) => event.state?.name === 'Activate')).toEqual([]);
  }, 300_000);

  it('the same CA dropped 20 times at once: one CA, ACTIVE, and every execution succeeds', async () => {
    const pki = await makeCa();
    const body = `${pki.pem}${(await makeLeaf(pki, `CN=${local.code}`)).pem}`;
    const before = local.stack.emulator.snapshot().length;
    await Promise.all(Array.from({ length: 20 }, () => put('incoming/same.pem', body)));
    await settle();
    const flows = flowsFor('incoming/same.pem');
    expect(flows.length).toBeGreaterThanOrEqual(1);
    expect(flows.filter((flow) => flow.status !== 'SUCCEEDED').map((flow) => `${flow.error}: ${flow.cause}`)).toEqual(
      [],
    );
    expect(local.stack.emulator.snapshot().length - before).toBe(1);
    converged(pki, 'incoming/same.pem');
  }, 120_000);

  it.each([
    // A fresh registration is complete in its one call (template, tags, ACTIVE): stopped before
    // its receipt, it is live and whole, never half-configured.
    ['RegisterCa', 'RecordResult', false],
    // A CA already registered bare (say, by hand) is converged first, AttachTemplate and TagCa
    // side by side: stopped as either starts, or after both.
    ['RegisterCa', 'AttachTemplate', true],
    ['RegisterCa', 'TagCa', true],
    ['Configure', 'Activate', true],
  ] as const)(
    'a flow stopped after %s (before %s; CA registered before: %s) leaves the CA INACTIVE or complete; the next run converges it',
    async (stoppedAfter, next, preRegistered) => {
      const pki = await makeCa();
      const key = `incoming/abort-${next}-${preRegistered}.pem`;
      const verification = (await makeLeaf(pki, `CN=${local.code}`)).pem;
      if (preRegistered)
        await local.stack.emulator.registerCaCertificate({
          caCertificate: pki.pem,
          verificationCertificate: verification,
        });
      local.stack.eventsEnabled = false;
      await put(key, `${pki.pem}${verification}`);
      local.stack.eventsEnabled = true;
      let abort = () => {};
      // The operator stops the execution just as the next step is about to run.
      local.stack.engine.beforeTask = (state) => {
        if (state !== next) return undefined;
        abort();
        return new Promise<void>(() => {});
      };
      const started = local.stack.engine.start({ bucket: local.stack.bucket, key });
      abort = started.abort;
      const stopped = await started.done;
      local.stack.engine.beforeTask = undefined;
      expect(stopped.status).toBe('ABORTED');
      expect(stopped.events.some((event) => event.type === 'StateExited' && event.state?.name === stoppedAfter)).toBe(
        true,
      );
      if (preRegistered) expect(caOf(pki)?.status).toBe('INACTIVE');
      else converged(pki, key);
      expect(registeredEvents(pki)).toEqual([]);
      const rerun = await local.stack.engine.run({ bucket: local.stack.bucket, key });
      expect(rerun.status).toBe('SUCCEEDED');
      converged(pki, key);
      // The stopped run announced nothing, so the rerun does, once, whatever it found (docs/adr/0032).
      await local.stack.idle();
      expect(registeredEvents(pki)).toHaveLength(1);
    },
  );

  it('the IoT emulator restarted mid-run loses nothing: every flow ends ACTIVE and the state on disk is whole', async () => {
    const pkis = await Promise.all(
      Array.from({ length: 30 }, (_, i) => makeCa({ key: P256, subject: `CN=restart ${i}` })),
    );
    local.stack.emulator.faults = { latencyMs: 20 };
    await Promise.all(
      pkis.map((pki, i) => put(`incoming/restart/${i}.pem`, pki.pem, { 'certificate-mode': 'SNI_ONLY' })),
    );
    await new Promise((resolve) => setTimeout(resolve, 150));
    await local.stack.restartIot();
    await settle();
    const flows = flowsFor('incoming/restart/');
    expect(flows.map((flow) => flow.status)).toEqual(flows.map(() => 'SUCCEEDED'));
    for (const [i, pki] of pkis.entries()) converged(pki, `incoming/restart/${i}.pem`);
    // A third emulator read from disk sees exactly what the running one has.
    const { IotEmulator } = await import('../../local/iot/emulator.ts');
    const fromDisk = new IotEmulator({ stateDir: local.stateDir });
    expect(
      fromDisk
        .snapshot()
        .map((ca) => [ca.certificateId, ca.status, ca.customerVersion])
        .sort(),
    ).toEqual(
      local.stack.emulator
        .snapshot()
        .map((ca) => [ca.certificateId, ca.status, ca.customerVersion])
        .sort(),
    );
  }, 120_000);
});
