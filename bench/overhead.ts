/**
 * Pipeline overhead against the script a user would otherwise write, on the same embedded stack:
 * upload the CA, read it back, make the IoT calls the flow makes (measured, not assumed), write a
 * receipt. The pipeline's time runs from the upload to its receipt, the script's from its upload
 * to its receipt's PutObject answer.
 */
import { X509Certificate } from 'node:crypto';
import {
  DescribeProvisioningTemplateCommand,
  GetRegistrationCodeCommand,
  IoTClient,
  RegisterCACertificateCommand,
} from '@aws-sdk/client-iot';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { LocalStack } from '../local/stack.ts';
import type { ExecutionRecord } from '../local/engine.ts';
import { makeCa, makeLeaf, P256 } from '../local/pki.ts';
import { inspectCaFile } from '../functions/core/certificate.ts';
import { desiredTags } from '../functions/core/options.ts';
import { resultKeyFor } from '../functions/core/source.ts';
import { busyShare, type Figure, median, round } from './figures.ts';

export const OVERHEAD_TARGET = 1.3;

const now = () => performance.timeOrigin + performance.now();
const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g;

/** What the emulator received between two snapshots of its call counters. */
const callsSince = (before: Map<string, number>, after: Map<string, number>): Record<string, number> =>
  Object.fromEntries(
    [...after]
      .map(([operation, n]) => [operation, n - (before.get(operation) ?? 0)] as const)
      .filter(([, n]) => n > 0)
      .sort(([a], [b]) => a.localeCompare(b)),
  );
const sameCalls = (a: Record<string, number>, b: Record<string, number>) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The script: what a user with the SDK and no pipeline would run for one DEFAULT CA. Its object
 * goes under a prefix the trigger ignores, so only the script touches it.
 */
const script = async (
  { s3, iot, bucket, template }: { s3: S3Client; iot: IoTClient; bucket: string; template: string },
  key: string,
  body: string,
): Promise<void> => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const [caPem, verificationPem] = (await object.Body?.transformToString())?.match(PEM_BLOCK) ?? [];
  const certificateId = new X509Certificate(caPem as string).fingerprint256.replaceAll(':', '').toLowerCase();
  await iot.send(new GetRegistrationCodeCommand({}));
  await iot.send(new DescribeProvisioningTemplateCommand({ templateName: template }));
  const registered = await iot.send(
    new RegisterCACertificateCommand({
      caCertificate: caPem,
      verificationCertificate: verificationPem,
      certificateMode: 'DEFAULT',
      // Live in the one call, as the flow registers a new CA (ADR 0027).
      setAsActive: true,
      allowAutoRegistration: true,
      registrationConfig: { templateName: template },
      tags: Object.entries(desiredTags({}, { bucket, key }, certificateId)).map(([Key, Value]) => ({ Key, Value })),
    }),
  );
  const receipt = { outcome: 'ACTIVE', key, certificateId, certificateArn: registered.certificateArn, template };
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: `script-results/${key}.json`, Body: JSON.stringify(receipt) }),
  );
};

export const overheadOn = async (
  stack: LocalStack,
  s3: S3Client,
  { rounds, log }: { rounds: number; log: (line: string) => void },
): Promise<{ figures: Figure[]; sample: ExecutionRecord }> => {
  const iot = new IoTClient({});
  const code = (await iot.send(new GetRegistrationCodeCommand({}))).registrationCode as string;
  const template = stack.app.params.templateName ?? 'iot-ca-local-jitp';
  const context = { s3, iot, bucket: stack.bucket, template };
  const activeAt = new Map<string, number>();
  stack.emulator.onCaSaved = (record) => {
    if (record.status === 'ACTIVE' && !activeAt.has(record.certificateId)) activeAt.set(record.certificateId, now());
  };
  const pipeline: number[] = [];
  const pipelineActive: number[] = [];
  const direct: number[] = [];
  const directActive: number[] = [];
  let pipelineCalls: Record<string, number> = {};
  let scriptCalls: Record<string, number> = {};
  let sample: ExecutionRecord | undefined;

  const runPipeline = async (i: number, body: string, certificateId: string) => {
    const key = `${stack.incomingPrefix}overhead/${i}.pem`;
    const before = stack.engine.list().length;
    const calls = new Map(stack.emulator.calls);
    const t0 = now();
    // The engine stamps its events with Date.now(): the time to the receipt is taken on that clock
    // at both ends (timeOrigin + performance.now() drifts from it over a long run).
    const t0Wall = Date.now();
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: body }));
    while (stack.engine.list().length === before) await new Promise((resolve) => setTimeout(resolve, 1));
    await stack.idle();
    const flow = stack.engine.list()[before] as ExecutionRecord;
    if (flow.status !== 'SUCCEEDED') throw new Error(`overhead flow ${flow.status} ${flow.error} ${flow.cause}`);
    // The receipt is in S3 when RecordResult, the state that writes it, has exited. Announce runs
    // after it (the event the script does not publish) and is not counted.
    const recorded = flow.events.find((event) => event.type === 'StateExited' && event.state?.name === 'RecordResult');
    if (!recorded) throw new Error('overhead flow never exited RecordResult');
    const receiptAt = recorded.timestamp as number;
    const receipt = await s3.send(
      new GetObjectCommand({ Bucket: stack.bucket, Key: resultKeyFor(key, stack.resultsPrefix) }),
    );
    const outcome = (JSON.parse((await receipt.Body?.transformToString()) ?? '{}') as { outcome?: string }).outcome;
    if (outcome !== 'ACTIVE') throw new Error(`overhead receipt says ${outcome}`);
    pipelineCalls = callsSince(calls, stack.emulator.calls);
    sample = flow;
    return { ms: receiptAt - t0Wall, activeMs: (activeAt.get(certificateId) as number) - t0 };
  };
  const runScript = async (i: number, body: string, certificateId: string) => {
    const calls = new Map(stack.emulator.calls);
    const t0 = now();
    await script(context, `script/overhead/${i}.pem`, body);
    const ms = now() - t0;
    scriptCalls = callsSince(calls, stack.emulator.calls);
    return { ms, activeMs: (activeAt.get(certificateId) as number) - t0 };
  };

  const { busy } = await busyShare(async () => {
    for (let i = 0; i < rounds + 1; i++) {
      // A fresh CA each time for each path; round 0 warms both up (workers, modules, connections).
      const [a, b] = await Promise.all([
        makeCa({ key: P256, subject: `CN=overhead pipeline ${Date.now()} ${i}` }),
        makeCa({ key: P256, subject: `CN=overhead script ${Date.now()} ${i}` }),
      ]);
      const bodyA = `${a.pem}${(await makeLeaf(a, `CN=${code}`)).pem}`;
      const bodyB = `${b.pem}${(await makeLeaf(b, `CN=${code}`)).pem}`;
      const [idA, idB] = [inspectCaFile(a.pem).certificateId, inspectCaFile(b.pem).certificateId];
      // The order alternates, so neither path always runs on the other's wake.
      let p: { ms: number; activeMs: number };
      let d: { ms: number; activeMs: number };
      if (i % 2 === 0) {
        p = await runPipeline(i, bodyA, idA);
        d = await runScript(i, bodyB, idB);
      } else {
        d = await runScript(i, bodyB, idB);
        p = await runPipeline(i, bodyA, idA);
      }
      if (i === 0) continue;
      pipeline.push(p.ms);
      pipelineActive.push(p.activeMs);
      direct.push(d.ms);
      directActive.push(d.activeMs);
    }
  });
  stack.emulator.onCaSaved = undefined;
  iot.destroy();
  if (!sameCalls(pipelineCalls, scriptCalls))
    log(
      `   the script's IoT calls ${JSON.stringify(scriptCalls)} differ from the flow's ${JSON.stringify(pipelineCalls)}`,
    );
  const ratio = median(pipeline) / median(direct);
  const activeRatio = median(pipelineActive) / median(directActive);
  return {
    sample: sample as ExecutionRecord,
    figures: [
      {
        name: 'Pipeline overhead: S3 put → receipt ÷ the script a user would write',
        value: `${round(ratio)}× (${round(median(pipeline), 1)} ms vs ${round(median(direct), 1)} ms, medians of ${pipeline.length}; to ACTIVE: ${round(median(pipelineActive), 1)} vs ${round(median(directActive), 1)} ms, ${round(activeRatio)}×; stack's main thread ${Math.round(busy * 100)}% busy)`,
        target: `≤ ${OVERHEAD_TARGET}×`,
        met: ratio <= OVERHEAD_TARGET && sameCalls(pipelineCalls, scriptCalls),
        detail: {
          script: 'S3 PutObject, S3 GetObject, the IoT calls below, S3 PutObject of a receipt',
          iotCalls: { pipeline: pipelineCalls, script: scriptCalls },
          pipelineToReceiptMs: pipeline.map((v) => round(v, 1)),
          scriptMs: direct.map((v) => round(v, 1)),
          pipelineToActiveMs: pipelineActive.map((v) => round(v, 1)),
          scriptToActiveMs: directActive.map((v) => round(v, 1)),
          mainThreadBusy: round(busy),
        },
      },
    ],
  };
};
