/**
 * IAM on the embedded stack: each function runs in a worker of its own with credentials naming its
 * role, and the local IoT, S3 and Step Functions endpoints evaluate that role's statements (as
 * serverless.yml declares them). A statement taken out fails the flow as it would on AWS.
 */
import { describe, expect, it } from 'vitest';
import { ListCACertificatesCommand, RegisterCACertificateCommand } from '@aws-sdk/client-iot';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import type { BusEvent } from '../../local/events/bus.ts';
import type { ReconcileReport } from '../../functions/reconcile-report.ts';
import type { Role } from '../../local/iam/roles.ts';
import { withoutStatement } from '../../local/iam/roles.ts';
import { makeCa, makeLeaf } from '../fixtures/pki.ts';
import { useLocalStack } from '../fixtures/stack.ts';

/** The roles with one action taken out of one role's statements (the statement goes if it is left empty). */
const without =
  (...cuts: Array<[role: string, action: string]>) =>
  (roles: Record<string, Role>): Record<string, Role> => {
    const adjusted = { ...roles };
    for (const [name, action] of cuts) {
      const role = adjusted[name];
      if (!role) throw new Error(`no role ${name}`);
      adjusted[name] = withoutStatement(role, (statement) => [statement.Action].flat().includes(action));
    }
    return adjusted;
  };

/** Takes one ARN out of a statement's Resource list (the state machine role's functions). */
const withoutResource =
  (roleName: string, resourceEnd: string) =>
  (roles: Record<string, Role>): Record<string, Role> => {
    const role = roles[roleName] as Role;
    return {
      ...roles,
      [roleName]: {
        ...role,
        policies: role.policies.map((policy) => ({
          ...policy,
          Statement: [policy.Statement].flat().map((statement) => ({
            ...statement,
            Resource: [statement.Resource ?? []].flat().filter((arn) => !arn.endsWith(resourceEnd)),
          })),
        })),
      },
    };
  };

/** `registeredBefore`: the CA is registered INACTIVE first, so the flow adopts it and Activate runs. */
const dropCa = async (fixture: ReturnType<typeof useLocalStack>, key: string, registeredBefore = false) => {
  const ca = await makeCa();
  const verification = await makeLeaf(ca, `CN=${fixture.code}`);
  if (registeredBefore)
    await fixture.iot.send(
      new RegisterCACertificateCommand({
        caCertificate: ca.pem,
        verificationCertificate: verification.pem,
        certificateMode: 'DEFAULT',
      }),
    );
  await fixture.put(key, `${ca.pem}${verification.pem}`);
  await fixture.settle();
  return fixture.resultOf(key);
};

const registeredCas = async (fixture: ReturnType<typeof useLocalStack>) =>
  (await fixture.iot.send(new ListCACertificatesCommand({}))).certificates ?? [];

describe('a function whose role lacks a statement', () => {
  const fixture = useLocalStack({
    adjustRoles: without(['RegisterCaRole', 'iot:RegisterCACertificate'], ['LoadCertificateRole', 's3:ListBucket']),
  });

  it('fails its step with AccessDeniedError and a report, and registers nothing', async () => {
    const report = await dropCa(fixture, 'incoming/denied.pem');
    expect(report.outcome).toBe('FAILED');
    expect(report.error.name).toBe('AccessDeniedError');
    expect(report.error.message).toMatch(/assumed-role\/RegisterCaRole\/.*iot:RegisterCACertificate/);
    expect(await registeredCas(fixture)).toEqual([]);
    // Exactly the call the role no longer allows was refused, and only for that function.
    const denied = fixture.stack.iam.guard.denials.map((denial) => `${denial.principal} ${denial.action}`);
    expect(denied.length).toBeGreaterThan(0);
    for (const line of denied) expect(line).toMatch(/RegisterCaRole\/iot-ca-pipeline-local-registerCa iot:Register/);
  });

  it('answers a missing object with 403, not 404, to a role without s3:ListBucket', async () => {
    const sfn = new SFNClient({});
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: fixture.stack.engine.stateMachineArn,
        input: JSON.stringify({ bucket: fixture.stack.bucket, key: 'incoming/never-uploaded.pem' }),
      }),
    );
    await fixture.stack.idle();
    const record = fixture.stack.engine.get(executionArn as string);
    // The flow records its failure, then fails with the step's error (as every failed flow does).
    expect(record?.error).toBe('AccessDeniedError');
    const report = await fixture.resultOf('incoming/never-uploaded.pem');
    expect(report.error.name).toBe('AccessDeniedError');
    sfn.destroy();
  });
});

describe('the same drop with the roles as serverless.yml declares them', () => {
  const fixture = useLocalStack();

  it('registers the CA ACTIVE with no call denied', async () => {
    const report = await dropCa(fixture, 'incoming/allowed.pem');
    expect(report.outcome).toBe('ACTIVE');
    expect(fixture.stack.iam.guard.denials).toEqual([]);
  });

  it('answers a missing object with 404 to a role with s3:ListBucket', async () => {
    const sfn = new SFNClient({});
    await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: fixture.stack.engine.stateMachineArn,
        input: JSON.stringify({ bucket: fixture.stack.bucket, key: 'incoming/never-uploaded.pem' }),
      }),
    );
    await fixture.stack.idle();
    expect((await fixture.resultOf('incoming/never-uploaded.pem')).error.name).toBe('ObjectNotFoundError');
    sfn.destroy();
  });
});

describe('a state machine role that may not invoke one of its functions', () => {
  const fixture = useLocalStack({
    adjustRoles: withoutResource('StateMachineRole', ':function:iot-ca-pipeline-local-registerCa'),
  });

  it('fails that Task as Step Functions does, with a report, and registers nothing', async () => {
    const report = await dropCa(fixture, 'incoming/no-invoke.pem');
    expect(report.outcome).toBe('FAILED');
    expect(report.error.name).toBe('Lambda.AWSLambdaException');
    expect(await registeredCas(fixture)).toEqual([]);
    expect(fixture.stack.iam.guard.denials.some((denial) => denial.action === 'lambda:InvokeFunction')).toBe(true);
  });
});

describe('a state machine role without the permission its SDK integration needs (docs/adr/0026)', () => {
  const fixture = useLocalStack({ adjustRoles: without(['StateMachineRole', 'iot:UpdateCACertificate']) });

  it("fails an adopted CA's Activate with Iot.AccessDeniedException as on AWS, reports it, and leaves the CA INACTIVE", async () => {
    const report = await dropCa(fixture, 'incoming/no-activate.pem', true);
    expect(report.outcome).toBe('FAILED');
    expect(report.error).toMatchObject({ name: 'Iot.AccessDeniedException', transient: false });
    // The Cause as Step Functions words an integration's failure, naming the role's session.
    expect(report.error.message).toMatch(
      /assumed-role\/StateMachineRole\/states is not authorized to perform: iot:UpdateCACertificate .*\(Service: Iot, Status Code: 403, Request ID: /,
    );
    expect(report.error.remedy).toMatch(/state machine's role/);
    const [ca] = await registeredCas(fixture);
    expect(ca?.status).toBe('INACTIVE');
    expect(fixture.stack.iam.guard.denials.map((denial) => denial.action)).toEqual(['iot:UpdateCACertificate']);
  });
});

describe('a state machine role that may not put events (docs/adr/0027, 0030)', () => {
  const published: BusEvent[] = [];
  const fixture = useLocalStack({
    adjustRoles: without(['StateMachineRole', 'events:PutEvents']),
    onBusEvent: (event) => published.push(event),
  });
  const registered = () =>
    published.filter((event) => event.source === 'iot-ca-pipeline' && event['detail-type'] === 'CA Registered');
  const reconcile = async () => {
    const record = await fixture.stack.reconcileEngine.start({ bucket: fixture.stack.bucket, deep: false }).done;
    expect(record.status, record.cause).toBe('SUCCEEDED');
    await fixture.stack.idle();
    return (record.output as { report: ReconcileReport }).report;
  };
  const pendingKeys = async () =>
    (
      await fixture.s3.send(
        new ListObjectsV2Command({ Bucket: fixture.stack.bucket, Prefix: 'results/notices/pending/' }),
      )
    ).Contents?.map((object) => object.Key) ?? [];

  it('still registers and records the CA: Announce fails with EventBridge.AccessDeniedException into NotAnnounced', async () => {
    const report = await dropCa(fixture, 'incoming/no-announce.pem');
    expect(report.outcome).toBe('ACTIVE');
    const [record] = fixture.stack.engine.list();
    expect(record?.status).toBe('SUCCEEDED');
    const failed = record?.events.filter((event) => event.type === 'StateFailed' && event.state?.name === 'Announce');
    expect(failed?.map((event) => event.Error)).toEqual(['EventBridge.AccessDeniedException']);
    expect(record?.events.some((event) => event.state?.name === 'NotAnnounced')).toBe(true);
    expect(record?.events.some((event) => event.state?.name === 'AnnouncementLost')).toBe(false);
    expect(fixture.stack.iam.guard.denials.map((denial) => denial.action)).toEqual(['events:PutEvents']);
  });

  it('keeps the event, and the next reconciliation publishes it once, under ReconcileReportRole, and deletes it', async () => {
    const [record] = fixture.stack.engine.list();
    expect(registered()).toEqual([]);
    // NotAnnounced wrote the pending announcement under the state machine's own role.
    expect(await pendingKeys()).toEqual([`results/notices/pending/${record?.name}.json`]);

    const first = await reconcile();
    expect(first.announced).toBe(1);
    const [event, ...more] = registered();
    expect(more).toEqual([]);
    expect(event?.detail).toMatchObject({
      source: { key: 'incoming/no-announce.pem' },
      trigger: 'upload',
      executionId: record?.executionArn,
      cause: expect.stringMatching(/^registered:/),
    });
    expect(event?.resources).toContain((event?.detail as { certificateArn?: string } | undefined)?.certificateArn);
    expect(await pendingKeys()).toEqual([]);

    const second = await reconcile();
    expect(second.announced).toBe(0);
    expect(registered()).toHaveLength(1);
    // ListBucket on notices/pending/, GET and DELETE of the pending object: all allowed by serverless.yml.
    expect(fixture.stack.iam.guard.denials.map((denial) => denial.action)).toEqual(['events:PutEvents']);
  });

  it('leaves a pending announcement that is not one in place, logged, and still reports', async () => {
    const key = 'results/notices/pending/hand-written.json';
    await fixture.s3.send(
      new PutObjectCommand({ Bucket: fixture.stack.bucket, Key: key, Body: '{"schema":"something else"}' }),
    );
    const report = await reconcile();
    expect(report.announced).toBe(0);
    expect(await pendingKeys()).toEqual([key]);
    expect(registered()).toHaveLength(1);
  });
});

describe('a RecordResult role that may not put events', () => {
  const fixture = useLocalStack({
    adjustRoles: without(['RecordResultRole', 'events:PutEvents'], ['RegisterCaRole', 'iot:RegisterCACertificate']),
  });

  it('still writes the failure report; the denied CA Registration Failed is logged, not fatal', async () => {
    const report = await dropCa(fixture, 'incoming/no-failure-event.pem');
    expect(report).toMatchObject({ outcome: 'FAILED', error: { name: 'AccessDeniedError' } });
    const actions = fixture.stack.iam.guard.denials.map((denial) => denial.action);
    expect(actions).toEqual(['iot:RegisterCACertificate', 'events:PutEvents']);
  });
});

describe('an EventBridge role that may not start the state machine', () => {
  const fixture = useLocalStack({ adjustRoles: without(['EventsStartExecutionRole', 'states:StartExecution']) });

  it('starts nothing on an upload, and records the denial', async () => {
    const ca = await makeCa();
    await fixture.put('incoming/not-started.pem', ca.pem, { 'certificate-mode': 'SNI_ONLY' });
    await fixture.settle();
    expect(fixture.stack.engine.list()).toEqual([]);
    expect(fixture.stack.iam.guard.denials.map((denial) => denial.action)).toEqual(['states:StartExecution']);
  });
});

describe('iam: false (iot-ca up --no-iam)', () => {
  const fixture = useLocalStack({ iam: false, adjustRoles: without(['RegisterCaRole', 'iot:RegisterCACertificate']) });

  it('allows every call, so the role with the statement taken out still registers', async () => {
    const report = await dropCa(fixture, 'incoming/no-iam.pem');
    expect(report.outcome).toBe('ACTIVE');
    expect(fixture.stack.iam.guard.denials).toEqual([]);
  });
});

describe('retire-ca under its roles (docs/adr/0025)', () => {
  const fixture = useLocalStack({ adjustRoles: without(['RecordRetiredRole', 'events:PutEvents']) });

  it('retires with every other call allowed; a step denied after Deactivate fails with AccessDeniedError and keeps its claim', async () => {
    const ca = await makeCa();
    await fixture.put('incoming/retire-denied.pem', `${ca.pem}${(await makeLeaf(ca, `CN=${fixture.code}`)).pem}`);
    await fixture.settle();
    const [registered] = await registeredCas(fixture);
    const certificateId = registered?.certificateId as string;
    const record = await fixture.stack.retireEngine.run({ certificateId, reason: 'iam-test', requestId: 'r1' });
    expect(record.status).toBe('FAILED');
    expect(record.error).toBe('AccessDeniedError');
    // Everything before the denied PutEvents ran under its own role: listed, deactivated, receipt written.
    expect(fixture.stack.iam.guard.denials.map((denial) => denial.action)).toEqual(['events:PutEvents']);
    const [after] = await registeredCas(fixture);
    expect(after?.status).toBe('INACTIVE');
    // No receipt without the event: a rerun does not take the CA for already retired and stay silent.
    await expect(
      fixture.s3.send(
        new GetObjectCommand({ Bucket: fixture.stack.bucket, Key: `results/retired/${certificateId}.json` }),
      ),
    ).rejects.toMatchObject({ name: 'NoSuchKey' });
    // The CA is deactivated: the claim stays, as the mark of a retirement under way (docs/adr/0031).
    expect(record.events.some((event) => event.state?.name === 'ReleaseClaim')).toBe(false);
    const claims = await fixture.s3.send(
      new ListObjectsV2Command({ Bucket: fixture.stack.bucket, Prefix: `results/retired/claims/${certificateId}/` }),
    );
    expect(claims.KeyCount).toBe(1);

    // Reconciliation sees the claim in its listing and leaves the CA INACTIVE: no repair re-activates it.
    const started = fixture.stack.engine.list().length;
    const reconciled = await fixture.stack.reconcileEngine.run({ bucket: fixture.stack.bucket, deep: false });
    expect(reconciled.status, reconciled.cause).toBe('SUCCEEDED');
    await fixture.stack.idle();
    const { report } = reconciled.output as { report: ReconcileReport };
    expect(report.counts).toMatchObject({ retired: 1, repaired: 0 });
    expect(fixture.stack.engine.list()).toHaveLength(started);
    expect((await registeredCas(fixture))[0]?.status).toBe('INACTIVE');

    // The same request runs again: its failed owner's claim is taken over.
    const again = await fixture.stack.retireEngine.run({ certificateId, reason: 'iam-test', requestId: 'r1' });
    expect(again.error).toBe('AccessDeniedError');
    expect(again.events.some((event) => event.state?.name === 'RecordRetired')).toBe(true);
  });
});
