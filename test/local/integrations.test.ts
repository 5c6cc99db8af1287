/**
 * The steps Step Functions runs itself (docs/adr/0026): an adopted CA's Activate
 * (aws-sdk:iot:updateCACertificate), RecordResult's receipt (aws-sdk:s3:putObject) and Announce
 * (the optimized events:putEvents, docs/adr/0027), on the embedded stack. The receipt is still
 * the contract, the errors are named as Step Functions names them and retried or reported as the
 * functions' were, and the history shows these steps as it shows the Lambda steps.
 */
import { describe, expect, it } from 'vitest';
import { RegisterCACertificateCommand } from '@aws-sdk/client-iot';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { GetExecutionHistoryCommand, SFNClient } from '@aws-sdk/client-sfn';
import { buildReceipt } from '../../functions/core/results.ts';
import { ReceiptSchema, type LoadedCertificate, type RegisteredCa } from '../../functions/core/schemas.ts';
import { inspectCaFile } from '../../functions/core/certificate.ts';
import { StepTracker, type Step } from '../../cli/follow.ts';
import type { ExecutionRecord } from '../../local/engine.ts';
import { SdkIntegrations } from '../../local/sfn/integrations.ts';
import { makeCa, makeLeaf } from '../fixtures/pki.ts';
import { useLocalStack } from '../fixtures/stack.ts';

// Retries pause 50 ms: 100 throttled attempts wait out 5 s, the quota test's need (3 flows at 1 TPS).
const local = useLocalStack({ retryIntervalMs: 50 });

const dropDefault = async (key: string, given?: Awaited<ReturnType<typeof makeCa>>) => {
  const ca = given ?? (await makeCa());
  const verification = await makeLeaf(ca, `CN=${local.code}`);
  local.stack.eventsEnabled = false;
  await local.put(key, `${ca.pem}${verification.pem}`, { tags: 'team=platform' });
  local.stack.eventsEnabled = true;
  return { ca, record: await local.stack.engine.run({ bucket: local.stack.bucket, key }) };
};

/** The CA registered INACTIVE beforehand (by hand, say): the flow adopts it and Activate makes it live. */
const registerInactive = async (ca: Awaited<ReturnType<typeof makeCa>>) => {
  const verification = await makeLeaf(ca, `CN=${local.code}`);
  await local.iot.send(
    new RegisterCACertificateCommand({
      caCertificate: ca.pem,
      verificationCertificate: verification.pem,
      certificateMode: 'DEFAULT',
      setAsActive: false,
    }),
  );
  return ca;
};

const failuresOf = (record: ExecutionRecord, state: string) =>
  record.events.filter((event) => event.type === 'StateFailed' && event.state?.name === state);

describe('the receipt, written by aws-sdk:s3:putObject', () => {
  it('is the receipt buildReceipt makes from the same state, valid under the result schema, as JSON', async () => {
    const { ca, record } = await dropDefault('incoming/integration/receipt.pem');
    expect(record.status).toBe('SUCCEEDED');
    const response = await local.s3.send(
      new GetObjectCommand({ Bucket: local.stack.bucket, Key: 'results/incoming/integration/receipt.pem.json' }),
    );
    expect(response.ContentType).toBe('application/json');
    const receipt = ReceiptSchema.parse(
      JSON.parse(await (response.Body as { transformToString(): Promise<string> }).transformToString()),
    );
    const state = record.output as { certificate: LoadedCertificate; registered: RegisteredCa };
    // Field for field what the function wrote before (functions/core/results.ts), nothing more.
    expect(receipt).toEqual(
      buildReceipt(state.certificate, state.registered, {
        executionId: record.executionArn,
        startedAt: receipt.startedAt as string,
        finishedAt: receipt.finishedAt,
      }),
    );
    expect(Object.keys(JSON.parse(JSON.stringify(receipt))).sort()).toEqual(
      Object.keys(
        buildReceipt(state.certificate, state.registered, {
          executionId: 'e',
          startedAt: 's',
          finishedAt: 'f',
        }),
      ).sort(),
    );
    expect(receipt).toMatchObject({
      outcome: 'ACTIVE',
      certificateId: inspectCaFile(ca.pem).certificateId,
      tags: expect.objectContaining({ team: 'platform' }),
    });
    // finishedAt is when RecordResult was entered: after the flow started, before it stopped.
    const entered = record.events.find(
      (event) => event.type === 'StateEntered' && event.state?.name === 'RecordResult',
    );
    expect(Date.parse(receipt.finishedAt)).toBeGreaterThanOrEqual(Date.parse(record.startDate));
    expect(Date.parse(receipt.finishedAt)).toBeGreaterThanOrEqual((entered?.timestamp ?? 0) - 1);
    expect(Date.parse(receipt.finishedAt)).toBeLessThanOrEqual(Date.parse(record.stopDate as string));
    expect(Date.parse(receipt.startedAt as string)).toBeLessThanOrEqual(Date.parse(receipt.finishedAt));
  });

  it("carries the CA's id as metadata, which aws-sdk:s3:headObject hands back with its key as S3 gave it", async () => {
    const { ca, record } = await dropDefault('incoming/integration/metadata.pem');
    expect(record.status).toBe('SUCCEEDED');
    const integrations = new SdkIntegrations(local.stack.iam.stateMachineIdentity('RegisterCaStateMachine'));
    try {
      const head = (await integrations.call('s3', 'headObject', {
        Bucket: local.stack.bucket,
        Key: 'results/incoming/integration/metadata.pem.json',
      })) as { Metadata?: Record<string, string>; ContentType?: string };
      // Members PascalCase, a map's keys untouched: what ReadReceipt's Choice reads (docs/adr/0032).
      expect(head.Metadata).toEqual({ certificateid: inspectCaFile(ca.pem).certificateId });
      expect(head.ContentType).toBe('application/json');
    } finally {
      integrations.destroy();
    }
  });
});

describe('Announce, run by the optimized events:putEvents', () => {
  it('shows in the history as a Task like the Lambda steps, and in the CLI step view, after the receipt', async () => {
    const { record } = await dropDefault('incoming/integration/history.pem');
    expect(record.status).toBe('SUCCEEDED');
    const sfn = new SFNClient({});
    const { events = [] } = await sfn.send(new GetExecutionHistoryCommand({ executionArn: record.executionArn }));
    sfn.destroy();
    const tasks = events.filter((event) => event.type === 'TaskScheduled' || event.type === 'TaskSucceeded');
    const details = (name: string) =>
      tasks
        .map((event) => event.taskScheduledEventDetails ?? event.taskSucceededEventDetails)
        .filter((detail) => detail?.resource === name)
        .map((detail) => detail?.resourceType);
    // A CA this run registers is live from RegisterCa: no Activate on the main path.
    expect(details('Activate')).toEqual([]);
    expect(details('RecordResult')).toEqual(['aws-sdk:s3', 'aws-sdk:s3']);
    expect(details('Announce')).toEqual(['events', 'events']);
    expect(details('RegisterCa')).toEqual(['lambda', 'lambda']);
    const steps: Step[] = [];
    const tracker = new StepTracker((step) => steps.push(step));
    for (const event of events) tracker.add(event);
    tracker.finish();
    expect(steps.map((step) => `${step.name} ${step.outcome}`)).toEqual([
      'LoadCertificate ok',
      'CertificateMode ok',
      'VerifyOwnership ok',
      'RegisterCa ok',
      'NeedsConfiguration ok',
      'RecordResult ok',
      'Announce ok',
    ]);
  });
});

describe("an adopted CA's Activate, run by aws-sdk:iot:updateCACertificate", () => {
  it('shows in the history as a Task like the Lambda steps', async () => {
    const ca = await registerInactive(await makeCa());
    const { record } = await dropDefault('incoming/integration/adopted-history.pem', ca);
    expect(record.status).toBe('SUCCEEDED');
    const activate = record.events.filter((event) => event.state?.name === 'Activate');
    expect(activate.map((event) => event.type)).toContain('StateEntered');
    expect(local.stack.engine.resourceTypeOf('Activate')).toBe('aws-sdk:iot');
    expect(
      local.stack.emulator.describeCaCertificate(inspectCaFile(ca.pem).certificateId).certificateDescription,
    ).toMatchObject({ status: 'ACTIVE', autoRegistrationStatus: 'ENABLE' });
  });

  it('waits out IoT throttling with the integration Retry (Iot.ThrottlingException) and ends ACTIVE', async () => {
    const ca = await registerInactive(await makeCa());
    // Activate's first two attempts are throttled, the third goes through.
    let attempts = 0;
    local.stack.engine.beforeTask = (state) => {
      if (state !== 'Activate') return;
      attempts += 1;
      local.stack.emulator.faults = attempts <= 2 ? { throttleRate: 1 } : {};
    };
    try {
      const { record } = await dropDefault('incoming/integration/throttled.pem', ca);
      expect(record.status).toBe('SUCCEEDED');
      const activateFailures = failuresOf(record, 'Activate');
      expect(activateFailures.map((event) => event.Error)).toEqual([
        'Iot.ThrottlingException',
        'Iot.ThrottlingException',
      ]);
      expect(activateFailures[0]?.Cause).toMatch(/\(Service: Iot, Status Code: 400, Request ID: .+\)$/);
      const id = inspectCaFile(ca.pem).certificateId;
      expect(local.stack.emulator.describeCaCertificate(id).certificateDescription).toMatchObject({
        status: 'ACTIVE',
        autoRegistrationStatus: 'ENABLE',
      });
    } finally {
      local.stack.engine.beforeTask = undefined;
      local.stack.emulator.faults = {};
    }
  }, 60_000);

  it('refused for good (the CA is gone): the failure report names Iot.ResourceNotFoundException, not transient', async () => {
    const ca = await registerInactive(await makeCa());
    // Someone deletes the INACTIVE CA between RegisterCa (which adopted it) and Activate.
    local.stack.engine.beforeTask = (state) => {
      if (state === 'Activate') local.stack.emulator.deleteCaCertificate(inspectCaFile(ca.pem).certificateId);
    };
    try {
      const { record } = await dropDefault('incoming/integration/gone.pem', ca);
      expect(record.status).toBe('FAILED');
      expect(record.error).toBe('Iot.ResourceNotFoundException');
      expect(failuresOf(record, 'Activate')).toHaveLength(1);
      const report = await local.resultOf('incoming/integration/gone.pem');
      expect(report).toMatchObject({
        outcome: 'FAILED',
        error: { name: 'Iot.ResourceNotFoundException', transient: false },
      });
      expect(report.error.message).toMatch(/\(Service: Iot, Status Code: 404, Request ID: .+\)$/);
    } finally {
      local.stack.engine.beforeTask = undefined;
    }
  });
});
