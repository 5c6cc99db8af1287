/**
 * `npm run bench`: what users pay for, measured side by side in one run. These machines are
 * noisy, so each figure is a median over repeated runs and is reported as a ratio to a baseline
 * measured in the same run. Nothing here fails CI: it prints the table and writes
 * bench/results.json and bench/results.md.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { loadApp, PROJECT_ROOT } from '../local/app.ts';
import { LocalStack } from '../local/stack.ts';
import type { ExecutionRecord } from '../local/engine.ts';
import type { Operation } from '../local/iot/emulator.ts';
import { inspectCaFile } from '../functions/core/certificate.ts';
import { RESULT_SCHEMA } from '../functions/core/results.ts';
import type { ReconcileReport } from '../functions/reconcile-report.ts';
import { makeCa, P256 } from '../local/pki.ts';
import { type BurstResult, burstOn, retried } from './burst.ts';
import { bulkDropOn, bulkFigure } from './bulk.ts';
import { type ColdRow, coldStart } from './cold.ts';
import { busyMeter, busyShare, type Figure, median, metText, round } from './figures.ts';
import { overheadOn } from './overhead.ts';

const log = (message: string) => process.stderr.write(`${message}\n`);
const quick = process.argv.includes('--quick');

const figures: Figure[] = [];

// ---- 1. Cold start: each function against its own floor (bench/cold.ts) ----

let coldRows: ColdRow[] = [];

const cold = async (): Promise<void> => {
  log('cold start: each function and its floor (its SDK clients only), bundled as serverless.yml does');
  const result = await coldStart(PROJECT_ROOT, { rounds: quick ? 3 : 15, log });
  coldRows = result.rows;
  figures.push(...result.figures);
};

// ---- one local stack for every figure below ----
// The handlers build their SDK clients once per process, as Lambda does per container, so the
// stack (and its ports) must live as long as the process: the sections share it, each under its
// own prefix, with the emulator's settings changed between them.

const stateDir = mkdtempSync(join(tmpdir(), 'iot-ca-bench-'));
let shared: { stack: LocalStack; s3: S3Client } | undefined;
const startStack = async (faults: NonNullable<Parameters<typeof LocalStack.start>[0]>['faults'] = {}) => {
  shared ??= { stack: await LocalStack.start({ stateDir, logLevel: 'SILENT' }), s3: new S3Client({}) };
  shared.stack.emulator.faults = faults;
  shared.stack.emulator.resetQuotas();
  shared.stack.emulator.calls.clear();
  shared.stack.emulator.admitted.clear();
  shared.stack.eventsEnabled = true;
  return { ...shared, close: async (_s3: S3Client) => shared?.stack.idle() };
};
const stopStack = async () => {
  if (!shared) return;
  shared.s3.destroy();
  await shared.stack.stop();
  rmSync(stateDir, { recursive: true, force: true });
};
const waitForFlows = async (stack: LocalStack, count: number): Promise<ExecutionRecord[]> => {
  while (stack.engine.list().length < count) await new Promise((r) => setTimeout(r, 5));
  await stack.idle();
  return stack.engine.list();
};

// ---- 2. Pipeline overhead: S3 put → receipt against the script a user would write (bench/overhead.ts) ----

let costSample: ExecutionRecord | undefined;

const overhead = async (): Promise<void> => {
  log('pipeline overhead: one DEFAULT CA to its receipt vs the script a user would write');
  const { stack, s3 } = await startStack();
  const result = await overheadOn(stack, s3, { rounds: quick ? 5 : 21, log });
  costSample = result.sample;
  figures.push(...result.figures);
  await stack.idle();
};

// ---- 3. Bursts: at AWS's quota ×10, and at AWS's quota (bench/burst.ts), reported side by side ----

/** One row per burst for the side-by-side table. */
interface BurstRow {
  burst: string;
  count: number;
  tps: number;
  seconds: number;
  floorSeconds: number;
  ratio: number;
  failed: number;
  lost: number;
  throttled: number;
  retriesPerCa: number | null;
  mainThreadBusy: number;
}
const burstRows: BurstRow[] = [];

const burst = async (): Promise<void> => {
  const count = quick ? 100 : 500;
  const runs = quick ? 1 : 3;
  const tps = 100;
  log(`burst: ${count} CAs at once, every IoT operation limited to ${tps} TPS (AWS ×10), ${runs} runs`);
  const { stack, s3, close } = await startStack({ tps });
  const busyOf = busyMeter();
  const results: Array<{
    seconds: number;
    floor: number;
    failed: number;
    lost: number;
    throttled: number;
    admitted: Record<Operation, number>;
  }> = [];
  for (let run = 0; run < runs; run++) {
    const pkis = await Promise.all(
      Array.from({ length: count }, (_, i) => makeCa({ key: P256, subject: `CN=burst ${run}-${i}` })),
    );
    stack.emulator.resetQuotas();
    stack.emulator.calls.clear();
    stack.emulator.admitted.clear();
    const before = stack.engine.list().length;
    const t0 = performance.now();
    for (let i = 0; i < count; i += 100) {
      await Promise.all(
        pkis.slice(i, i + 100).map((pki, j) =>
          s3.send(
            new PutObjectCommand({
              Bucket: stack.bucket,
              Key: `incoming/burst/${run}/${i + j}.pem`,
              Body: pki.pem,
              Metadata: { 'certificate-mode': 'SNI_ONLY' },
            }),
          ),
        ),
      );
    }
    const flows = (await waitForFlows(stack, before + count)).slice(before);
    const seconds = (performance.now() - t0) / 1000;
    const admitted = Object.fromEntries(stack.emulator.admitted) as Record<Operation, number>;
    const burstIds = new Set(pkis.map((pki) => inspectCaFile(pki.pem).certificateId));
    const active = stack.emulator
      .snapshot()
      .filter((ca) => burstIds.has(ca.certificateId) && ca.status === 'ACTIVE').length;
    results.push({
      seconds,
      floor: Math.max(...Object.values(admitted)) / tps,
      failed: flows.filter((flow) => flow.status !== 'SUCCEEDED').length,
      lost: count - active,
      throttled: [...stack.emulator.calls].reduce((sum, [op, n]) => sum + n - (admitted[op] ?? 0), 0),
      admitted,
    });
  }
  const busy = busyOf();
  await close(s3);
  // The run with the median ratio stands for the figure; every run must lose and fail nothing.
  const sorted = [...results].sort((a, b) => a.seconds / a.floor - b.seconds / b.floor);
  const mid = sorted[Math.floor(sorted.length / 2)] as (typeof results)[number];
  const [failed, lost] = [results.reduce((sum, r) => sum + r.failed, 0), results.reduce((sum, r) => sum + r.lost, 0)];
  burstRows.push({
    burst: `AWS ×10 (median of ${runs} runs)`,
    count,
    tps,
    seconds: round(mid.seconds, 1),
    floorSeconds: round(mid.floor, 1),
    ratio: round(mid.seconds / mid.floor),
    failed,
    lost,
    throttled: mid.throttled,
    retriesPerCa: null,
    mainThreadBusy: round(busy),
  });
  figures.push({
    name: `Burst: ${count} CAs under ${tps} TPS per operation ÷ quota floor`,
    value: `${round(mid.seconds / mid.floor)}× (${round(mid.seconds, 1)} s vs floor ${round(mid.floor, 1)} s; median of ${runs} runs: ${results.map((r) => `${round(r.seconds / r.floor)}×`).join(', ')}; ${failed} failed, ${lost} lost; stack's main thread ${Math.round(busy * 100)}% busy)`,
    target: '≤ 1.3×, 0 lost, 0 failed',
    met: mid.seconds / mid.floor <= 1.3 && failed === 0 && lost === 0,
    detail: {
      mainThreadBusy: round(busy),
      runs: results.map((r) => ({
        seconds: round(r.seconds, 2),
        floorSeconds: round(r.floor, 2),
        admitted: r.admitted,
        throttledCalls: r.throttled,
        failed: r.failed,
        lost: r.lost,
      })),
    },
  });
};

// ---- Burst at AWS's real quota, with the state machine's own backoff ----

const burstAtQuota = async (): Promise<void> => {
  const count = quick ? 200 : 2000;
  log(
    `burst at AWS's quota: ${count} CAs at once, every IoT operation held to 10 TPS, the ASL's real backoff (~${count / 10} s floor)`,
  );
  // On the stack the other sections share: a second stack in this process would redirect their
  // handlers (the SDK's endpoint variables are process-wide).
  const { stack, s3 } = await startStack();
  const { result, busy } = await busyShare(() => burstOn(stack, s3, { count, tps: 10, log }));
  burstRows.push(burstRow("AWS's quota", result, busy));
  figures.push({
    name: `Burst at AWS's quota: ${count.toLocaleString('en')} CAs under 10 TPS per operation ÷ quota floor`,
    value: `${round(result.ratio)}× (${round(result.seconds, 1)} s vs floor ${round(result.floorSeconds, 1)} s; ${result.failed} failed, ${result.lost} lost, ${result.duplicates} duplicated; ${round(result.retries / count, 1)} Task retries per CA; stack's main thread ${Math.round(busy * 100)}% busy)`,
    target: '≤ 1.3×, 0 lost, 0 failed',
    met: result.ratio <= 1.3 && result.failed === 0 && result.lost === 0 && result.duplicates === 0,
    detail: {
      ...result,
      seconds: round(result.seconds, 2),
      ratio: round(result.ratio, 3),
      mainThreadBusy: round(busy),
    },
  });
};

const burstRow = (burst: string, result: BurstResult, busy: number): BurstRow => ({
  burst,
  count: result.count,
  tps: result.tps,
  seconds: round(result.seconds, 1),
  floorSeconds: round(result.floorSeconds, 1),
  ratio: round(result.ratio),
  failed: result.failed,
  lost: result.lost,
  throttled: result.throttled,
  retriesPerCa: round(result.retries / result.count, 1),
  mainThreadBusy: round(busy),
});

// ---- 4. Reconcile at scale ----

let seeded = 0;

/**
 * Counts the S3 requests the reconcile functions sign, as the local S3 receives them: each request
 * is judged once by the stack's IAM guard, under the function's own role, before s3rver answers.
 */
const countReconcileS3 = (stack: LocalStack): { counts: Map<string, number>; stop: () => void } => {
  const guard = stack.iam.guard;
  const check = guard.check;
  const counts = new Map<string, number>();
  guard.check = function (this: typeof guard, principal, requests, record = true) {
    const action = requests[0]?.action ?? '';
    // record=false is the guard's second look at a 404 (to hide it as 403), not another request.
    if (record && action.startsWith('s3:') && principal?.sessionName.includes('reconcile'))
      counts.set(action, (counts.get(action) ?? 0) + 1);
    return check.call(this, principal, requests, record);
  };
  return {
    counts,
    stop: () => {
      guard.check = check;
    },
  };
};
const requestsIn = (counts: Record<string, number>) => Object.values(counts).reduce((sum, n) => sum + n, 0);

/** Seeds CAs (registered, attached, ACTIVE) with their objects and receipts until `total` exist, then reconciles. */
const reconcileAt = async (
  total: number,
): Promise<{
  seconds: number;
  times: number[];
  retries: string[];
  report: ReconcileReport;
  s3Runs: Array<Record<string, number>>;
}> => {
  const { stack, s3 } = await startStack();
  stack.eventsEnabled = false;
  const template = 'iot-ca-local-jitp';
  while (seeded < total) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(200, total - seeded) }, (_, j) =>
        makeCa({ key: P256, subject: `CN=scale ${seeded + j}` }),
      ),
    );
    await Promise.all(
      batch.map(async (pki, j) => {
        const { certificateId, certificateArn } = await stack.emulator.registerCaCertificate({
          caCertificate: pki.pem,
          certificateMode: 'SNI_ONLY',
          setAsActive: true,
          allowAutoRegistration: true,
        });
        stack.emulator.updateCaCertificate(certificateId, {}, { registrationConfig: { templateName: template } });
        const key = `incoming/scale/${seeded + j}.pem`;
        const receipt = {
          schema: RESULT_SCHEMA,
          outcome: 'ACTIVE',
          source: { bucket: stack.bucket, key, etag: createHash('md5').update(pki.pem).digest('hex') },
          certificateId,
          certificateArn,
          certificateMode: 'SNI_ONLY',
          templateName: template,
          tags: {},
          adopted: false,
          subject: pki.subject,
          notAfter: inspectCaFile(pki.pem).notAfter,
          warnings: [],
          finishedAt: '',
        };
        await retried(() => s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: pki.pem })));
        await retried(() =>
          s3.send(
            new PutObjectCommand({ Bucket: stack.bucket, Key: `results/${key}.json`, Body: JSON.stringify(receipt) }),
          ),
        );
      }),
    );
    await stack.emulator.flush();
    seeded += batch.length;
  }
  stack.eventsEnabled = true;
  // Timed three times over the same CAs (nothing drifts between runs), the median kept.
  const times: number[] = [];
  const retries: string[] = [];
  const s3Runs: Array<Record<string, number>> = [];
  let report: ReconcileReport | undefined;
  // At least two runs: the first after seeding reads what it has not seen, the next what a
  // no-drift hour costs.
  for (let run = 0; run < (quick ? 2 : 3); run++) {
    const counter = countReconcileS3(stack);
    const t0 = performance.now();
    const record = await stack.reconcileEngine.run({ bucket: stack.bucket, deep: false });
    times.push((performance.now() - t0) / 1000);
    counter.stop();
    s3Runs.push(Object.fromEntries(counter.counts));
    if (record.status !== 'SUCCEEDED') throw new Error(`reconcile ${record.status}: ${record.error}`);
    // A step the state machine had to retry redoes its work: shown, since it costs calls and time.
    retries.push(
      ...record.events
        .filter((event) => event.type === 'StateFailed' || event.type === 'StateRetried')
        .map((event) =>
          `${event.type} ${event.state?.name}${event.Error ? `: ${event.Error} ${event.Cause ?? ''}` : ''}`.slice(
            0,
            300,
          ),
        ),
    );
    report = (record.output as { report: ReconcileReport }).report;
  }
  if (retries.length > 0) log(`   reconcile at ${total}: the state machine retried ${retries.join('; ')}`);
  return { seconds: median(times), times, retries, report: report as ReconcileReport, s3Runs };
};

const reconcileScale = async (): Promise<void> => {
  const [small, large] = quick ? [100, 1000] : [1000, 10000];
  log(`4/5 reconcile: ${small} and ${large} CAs in sync (seeding takes a while)`);
  const a = await reconcileAt(small);
  const b = await reconcileAt(large);
  // The bucket also holds the CAs of the sections above, all in sync: count what was reconciled.
  const [na, nb] = [a.report.counts.objects, b.report.counts.objects];
  const perCa = b.report.iotCallsTotal / nb;
  figures.push({
    name: `Reconcile, no drift: IoT calls per CA (${nb.toLocaleString('en')} CAs)`,
    value: `${round(perCa, 4)} (${b.report.iotCallsTotal} calls; Terraform refresh: 2 per CA)`,
    target: '≤ 0.02',
    met: perCa <= 0.02 && b.report.counts.inSync === nb,
    detail: {
      small: {
        count: na,
        inSync: a.report.counts.inSync,
        calls: a.report.iotCalls,
        seconds: a.times.map((t) => round(t, 2)),
        retries: a.retries,
      },
      large: {
        count: nb,
        inSync: b.report.counts.inSync,
        calls: b.report.iotCalls,
        seconds: b.times.map((t) => round(t, 2)),
        retries: b.retries,
      },
    },
  });
  // The last run is the no-drift hour; the first after seeding shows what reading new receipts costs.
  const lastS3 = b.s3Runs.at(-1) ?? {};
  const s3PerCa = requestsIn(lastS3) / nb;
  figures.push({
    name: `Reconcile, no drift: S3 requests per CA (${nb.toLocaleString('en')} CAs)`,
    value: `${round(s3PerCa, 4)} (${requestsIn(lastS3)} requests: ${Object.entries(lastS3)
      .map(([action, n]) => `${n} ${action.replace(/^s3:/, '')}`)
      .join(', ')}; the first run after seeding: ${requestsIn(b.s3Runs[0] ?? {})})`,
    target: '≤ 0.02',
    met: s3PerCa <= 0.02 && b.report.counts.inSync === nb,
    detail: { small: { count: na, runs: a.s3Runs }, large: { count: nb, runs: b.s3Runs } },
  });
  const ratio = b.seconds / a.seconds;
  const perCaRatio = ratio / (nb / na);
  figures.push({
    name: `Reconcile, no drift: wall time ${nb.toLocaleString('en')} ÷ ${na.toLocaleString('en')} CAs`,
    value: `${round(ratio, 1)} (${round(b.seconds, 1)} s vs ${round(a.seconds, 1)} s, medians of ${b.times.length} runs; ${round(perCaRatio, 2)}× the time per CA)`,
    target: `≤ ${round((nb / na) * 1.2, 1)} (linear, +20%)`,
    met: perCaRatio <= 1.2,
    detail: { smallSeconds: round(a.seconds, 2), largeSeconds: round(b.seconds, 2) },
  });
};

// ---- Invocations and transitions per registration ----

const PRICE_PER_TRANSITION = 0.000025; // AWS Standard workflows, us-east-1: $0.025 per 1,000 state transitions
const INVOCATIONS_TARGET = 3;
const TRANSITIONS_TARGET = 7;

/**
 * Counted from the history the local engine recorded for one DEFAULT execution of the overhead
 * section: every state entered or retried is a transition; a Task bound to a function (not an
 * AWS SDK service integration, which Step Functions runs itself) entered or retried is a Lambda
 * invocation.
 */
const cost = (): void => {
  log('invocations and transitions per DEFAULT registration, from the execution history');
  if (!costSample) {
    log('   no DEFAULT execution to count (run with the overhead section)');
    return;
  }
  const machine = loadApp(PROJECT_ROOT, 'local').stateMachines.RegisterCaStateMachine;
  const lambdaStates = new Set(Object.keys(machine?.bindings ?? {}));
  // Tasks Step Functions runs itself (AWS SDK integrations, docs/adr/0026): a transition, no invocation.
  const integrationStates = new Set(Object.keys(machine?.integrations ?? {}));
  const events = costSample.events;
  const counted = events.filter((event) => event.type === 'StateEntered' || event.type === 'StateRetried');
  const transitions = counted.length;
  const invoked = counted
    .filter((event) => lambdaStates.has(event.state?.name ?? ''))
    .map((event) => event.state?.name);
  const states = events.filter((event) => event.type === 'StateEntered').map((event) => event.state?.name);
  const integrated = counted
    .filter((event) => integrationStates.has(event.state?.name ?? ''))
    .map((event) => event.state?.name);
  const detail = {
    states,
    lambdaInvocations: invoked,
    serviceIntegrations: integrated,
    retries: events.filter((event) => event.type === 'StateRetried').length,
  };
  figures.push({
    name: 'Lambda invocations per registration (DEFAULT mode)',
    value: `${invoked.length} (${invoked.join(', ')}${integrated.length ? `; Step Functions calls AWS itself for ${integrated.join(', ')}` : ''})`,
    target: `≤ ${INVOCATIONS_TARGET}`,
    met: invoked.length <= INVOCATIONS_TARGET,
    detail,
  });
  figures.push({
    name: 'State transitions per registration (DEFAULT mode)',
    value: `${transitions} ($${(transitions * PRICE_PER_TRANSITION * 1_000_000).toFixed(0)} per million CAs in transitions)`,
    target: `≤ ${TRANSITIONS_TARGET}`,
    met: transitions <= TRANSITIONS_TARGET,
    detail,
  });
};

// ---- Bulk drop: one `iot-ca drop <folder> --wait` under the quota (bench/bulk.ts) ----

const bulk = async (): Promise<void> => {
  const count = quick ? 50 : 200;
  log(
    `bulk drop: ${count} CAs dropped and followed by one \`iot-ca --local drop <folder> --wait\`, 10 TPS per IoT operation`,
  );
  const { stack } = await startStack();
  const result = await bulkDropOn(stack, { root: PROJECT_ROOT, count, log });
  // A command that gave up on a throttled read is run again with that read unthrottled: what the
  // rest of the drop costs once the command survives the quota (a diagnostic, not the figure).
  const throttledRead = /Rate exceeded for (\w+)/.exec(result.error?.message ?? '')?.[1] as Operation | undefined;
  const diagnostic = throttledRead
    ? await bulkDropOn(stack, { root: PROJECT_ROOT, count, log, unthrottled: [throttledRead] })
    : undefined;
  figures.push(bulkFigure(result, diagnostic));
};

// ---- main ----

// `--only=burst,cost` runs some sections (results.* then hold only those figures).
const only = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length);
const sections: Array<[string, () => Promise<void> | void]> = [
  ['cold', cold],
  ['overhead', overhead],
  ['cost', cost],
  ['burst', burst],
  ['quota', burstAtQuota],
  ['reconcile', reconcileScale],
  ['bulk', bulk],
];
const started = performance.now();
const chosen = sections.filter(([name]) => !only || only.split(',').includes(name));
for (const [i, [name, section]] of chosen.entries()) {
  log(`[${i + 1}/${chosen.length}] ${name}`);
  await section();
}
await stopStack();
const minutes = round((performance.now() - started) / 60_000, 1);

const table = [
  '| figure | measured | target | met |',
  '| --- | --- | --- | --- |',
  ...figures.map((figure) => `| ${figure.name} | ${figure.value} | ${figure.target} | ${metText(figure.met)} |`),
].join('\n');
const perFunction = [
  '| function | SDK clients | bundle KB | floor KB | KB without the build plugins | init CPU ms | floor init CPU ms | ÷ floor (CPU) | init wall ms | floor wall ms | ÷ floor (wall) | ≤ 1.15× | stack floor ÷ floor | ÷ stack floor |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...coldRows.map(
    (row) =>
      `| ${row.function} | ${row.clients.join(', ')} | ${row.kb} | ${row.floorKb} | ${row.stockKb} | ${row.initCpuMs} | ${row.floorInitCpuMs} | ${row.ratio} | ${row.initMs} | ${row.floorInitMs} | ${row.wallRatio} | ${metText(row.met)} | ${row.stackFloorRatio} | ${row.overStackRatio} |`,
  ),
].join('\n');
const bursts = [
  '| burst | CAs | TPS per operation | seconds | quota floor, s | ÷ floor | failed | lost | throttled calls | Task retries per CA | stack main thread busy |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...burstRows.map(
    (row) =>
      `| ${row.burst} | ${row.count} | ${row.tps} | ${row.seconds} | ${row.floorSeconds} | ${row.ratio} | ${row.failed} | ${row.lost} | ${row.throttled} | ${row.retriesPerCa ?? '—'} | ${Math.round(row.mainThreadBusy * 100)}% |`,
  ),
].join('\n');
const os = await import('node:os');
const machine = `${process.version}, ${os.cpus().length} cores, ${new Date().toISOString().slice(0, 10)}${quick ? ', --quick' : ''}`;
const load = os.loadavg().map((n) => round(n, 1));
const extras = [
  coldRows.length > 0 ? `## Cold start per function, against its floor\n\n${perFunction}\n` : '',
  burstRows.length > 0 ? `## Bursts side by side\n\n${bursts}\n` : '',
].filter(Boolean);
const markdown = `# Benchmark results\n\n${machine}; the whole run took ${minutes} min (load average at the end: ${load.join(', ')}).\n\n${table}\n\n${extras.join('\n')}`;
// Only a full run replaces the recorded results (the README shows them); --quick and --only print.
const full = !quick && !only;
if (full) {
  mkdirSync(resolve(PROJECT_ROOT, 'bench'), { recursive: true });
  writeFileSync(
    resolve(PROJECT_ROOT, 'bench/results.json'),
    `${JSON.stringify({ machine, minutes, loadAverage: load, figures, coldRows, burstRows }, null, 2)}\n`,
  );
  writeFileSync(resolve(PROJECT_ROOT, 'bench/results.md'), markdown);
}
process.stdout.write(
  `\n${table}\n\n${extras.join('\n')}\n(${machine}; ${minutes} min; load ${load.join(', ')})${full ? ' → bench/results.json, bench/results.md' : ''}\n`,
);
