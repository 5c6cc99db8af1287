import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import {
  BUSINESS_ERRORS,
  INTEGRATION_FAULT_ERRORS,
  INTEGRATION_THROTTLING_ERRORS,
  LAMBDA_SERVICE_ERRORS,
  TRANSIENT_ERRORS,
} from '../../functions/core/errors.ts';
import { loadApp } from '../../local/app.ts';

const aslValidator = createRequire(import.meta.url)('asl-validator') as (
  definition: unknown,
  options?: { checkArn?: boolean; checkPaths?: boolean },
) => { isValid: boolean; errorsText: (separator?: string) => string };

type State = {
  Type: string;
  Resource?: string;
  Retry?: Array<{
    ErrorEquals: string[];
    JitterStrategy?: string;
    BackoffRate?: number;
    MaxAttempts?: number;
    MaxDelaySeconds?: number;
  }>;
  Catch?: Array<{ ErrorEquals: string[]; ResultPath?: string; Next: string }>;
  Next?: string;
  End?: boolean;
  Branches?: Array<{ StartAt: string; States: Record<string, State> }>;
  Default?: string;
};
const definition = JSON.parse(readFileSync('statemachines/register-ca.asl.json', 'utf8')) as {
  StartAt: string;
  States: Record<string, State>;
};
/** Every state, with those inside Parallel branches, and the top-level state that catches for it. */
const allStates = (states: Record<string, State>, catcher?: string): Array<[string, State, string]> =>
  Object.entries(states).flatMap(([name, state]) => [
    [name, state, catcher ?? name] as [string, State, string],
    ...(state.Branches ?? []).flatMap((branch) => allStates(branch.States, catcher ?? name)),
  ]);
const tasks = allStates(definition.States).filter(([, state]) => state.Type === 'Task');
/** The Tasks Step Functions runs itself (docs/adr/0026) and those that invoke a function. */
const isIntegration = (state: State) => /^arn:\$\{Partition\}:states:::/.test(state.Resource ?? '');
const lambdaTasks = tasks.filter(([, state]) => !isIntegration(state));
const integrationTasks = tasks.filter(([, state]) => isIntegration(state));
/** `arn:${Partition}:states:::aws-sdk:iot:x` → Iot; the optimized `states:::events:putEvents` → EventBridge. */
const servicePrefix = (state: State) => {
  const parts = state.Resource?.split(':') ?? [];
  const service = parts[5] === 'aws-sdk' ? parts[6] : parts[5];
  return (
    ({ iot: 'Iot', s3: 'S3', events: 'EventBridge' } as Record<string, string>)[String(service)] ?? 'unknown service'
  );
};

/** The definition as deployed: CloudFormation substitutes each ${XFunctionArn} with an ARN. */
const validateDeployed = (file: string) => {
  const text = readFileSync(file, 'utf8');
  const deployed = JSON.parse(
    text
      .replace(/\$\{(\w+)FunctionArn\}/g, 'arn:aws:lambda:us-east-1:123456789012:function:$1')
      .replace(/\$\{ResultsPrefix\}/g, 'results/')
      .replace(/\$\{Partition\}/g, 'aws'),
  );
  return aslValidator(deployed, { checkArn: true, checkPaths: true });
};

describe('register-ca.asl.json', () => {
  it('is valid Amazon States Language (asl-validator) once CloudFormation substitutes the function ARNs', () => {
    const result = validateDeployed('statemachines/register-ca.asl.json');
    expect(result.errorsText('\n')).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('runs the steps in the designed order', () => {
    const order: string[] = [];
    let name: string | undefined = definition.StartAt;
    while (name) {
      const state: State = definition.States[name] as State;
      order.push(state.Branches ? `${name}[${state.Branches.map((branch) => branch.StartAt).join(' | ')}]` : name);
      // The longest path: DEFAULT mode, and an adopted CA that needs converging.
      name = name === 'CertificateMode' ? 'VerifyOwnership' : state.Type === 'Choice' ? state.Default : state.Next;
    }
    expect(order).toEqual([
      'LoadCertificate',
      'CertificateMode',
      'VerifyOwnership',
      'RegisterCa',
      'NeedsConfiguration',
      'Configure[AttachTemplate | TagCa]',
      'Activate',
      'Changed',
      'RecordResult',
      'Announce',
    ]);
  });

  it('keeps a fresh DEFAULT registration at 7 transitions: RegisterCa makes it live, Announce replaces Activate', () => {
    const path: string[] = [];
    let name: string | undefined = definition.StartAt;
    while (name) {
      path.push(name);
      const state: State = definition.States[name] as State;
      // DEFAULT mode with the operator's verification certificate; a CA this run registered (configured).
      name =
        name === 'CertificateMode'
          ? 'VerifyOwnership'
          : name === 'NeedsConfiguration'
            ? ((state as unknown as { Choices: Array<{ Next: string }> }).Choices[0]?.Next as string)
            : state.Type === 'Choice'
              ? state.Default
              : state.Next;
    }
    expect(path).toEqual([
      'LoadCertificate',
      'CertificateMode',
      'VerifyOwnership',
      'RegisterCa',
      'NeedsConfiguration',
      'RecordResult',
      'Announce',
    ]);
    expect(path.filter((step) => lambdaTasks.some(([task]) => task === step))).toHaveLength(3);
  });

  it('announces only what changed: an adopted CA found converged, tags included, and recorded before gets its receipt and no event', () => {
    const changed = definition.States.Changed as State & { Choices: Array<Record<string, unknown>> };
    expect(changed.Choices).toEqual([
      {
        And: [
          { Variable: '$.registered.converged', BooleanEquals: true },
          { Variable: '$.configuration.tagChanges', NumericEquals: 0 },
        ],
        Next: 'ReadReceipt',
      },
    ]);
    expect(changed.Default).toBe('RecordResult');
    // Recorded before: its receipt's metadata names this CA (docs/adr/0032). Anything else, a
    // failure to read included, announces.
    expect(definition.States.ReadReceipt).toMatchObject({
      Resource: 'arn:${Partition}:states:::aws-sdk:s3:headObject',
      Parameters: { 'Key.$': "States.Format('${ResultsPrefix}{}.json', $.certificate.source.key)" },
      ResultPath: '$.recorded',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.recordedError', Next: 'RecordResult' }],
      Next: 'AlreadyRecorded',
    });
    const recorded = definition.States.AlreadyRecorded as State & { Choices: Array<Record<string, unknown>> };
    expect(recorded.Choices).toEqual([
      {
        And: [
          { Variable: '$.recorded.Metadata.certificateid', IsPresent: true },
          { Variable: '$.recorded.Metadata.certificateid', StringEqualsPath: '$.registered.certificateId' },
        ],
        Next: 'RecordUnchanged',
      },
    ]);
    expect(recorded.Default).toBe('RecordResult');
    expect(
      (definition.States.RecordResult as State & { Parameters: Record<string, unknown> }).Parameters,
    ).toMatchObject({ Metadata: { 'certificateid.$': '$.registered.certificateId' } });
    const { Comment: _a, Next: _next, ...recordResult } = definition.States.RecordResult as State & { Comment: string };
    const {
      Comment: _b,
      End: end,
      ...recordUnchanged
    } = definition.States.RecordUnchanged as State & {
      Comment: string;
    };
    // The same receipt on both paths.
    expect(recordUnchanged).toEqual(recordResult);
    expect(end).toBe(true);
    expect(definition.States.RecordResult?.Next).toBe('Announce');
  });

  it('publishes CA Registered or CA Drift Repaired with the optimized EventBridge integration, never failing the run', () => {
    const announce = definition.States.Announce as State & { Parameters: { Entries: Array<Record<string, unknown>> } };
    expect(announce.Resource).toBe('arn:${Partition}:states:::events:putEvents');
    expect(announce.Parameters.Entries).toHaveLength(1);
    expect(announce.Parameters.Entries[0]).toMatchObject({
      Source: 'iot-ca-pipeline',
      'DetailType.$': '$.certificate.announcement.detailType',
    });
    expect(announce.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.announcementError', Next: 'NotAnnounced' },
    ]);
  });

  it('keeps an announcement Announce could not publish as a pending one for reconciliation (docs/adr/0030)', () => {
    const notAnnounced = definition.States.NotAnnounced as State & { Parameters: Record<string, unknown> };
    expect(notAnnounced.Type).toBe('Task');
    expect(notAnnounced.Resource).toBe('arn:${Partition}:states:::aws-sdk:s3:putObject');
    expect(notAnnounced.Parameters).toMatchObject({
      'Bucket.$': '$.certificate.source.bucket',
      'Key.$': "States.Format('${ResultsPrefix}notices/pending/{}.json', $$.Execution.Name)",
      ContentType: 'application/json',
      Body: { schema: 'iot-ca-pipeline/pending-notice@1', 'error.$': '$.announcementError' },
    });
    // Not `ResultPath: null`: serverless package drops a null from the deployed definition.
    expect(notAnnounced).toMatchObject({ ResultSelector: { pending: true }, ResultPath: '$.announcement' });
    expect(notAnnounced.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.pendingNoticeError', Next: 'AnnouncementLost' },
    ]);
    expect(notAnnounced.End).toBe(true);
    // The execution succeeds either way: the CA is live and its receipt written.
    expect(definition.States.AnnouncementLost).toMatchObject({ Type: 'Pass', End: true });
    expect(JSON.stringify(definition.States.AnnouncementLost)).toContain('lost');
  });

  it('writes in the pending announcement exactly the event Announce sends: detail-type, resources and detail', () => {
    const [entry] = (definition.States.Announce as State & { Parameters: { Entries: Array<Record<string, unknown>> } })
      .Parameters.Entries as [Record<string, unknown>];
    const body = (definition.States.NotAnnounced as State & { Parameters: { Body: Record<string, unknown> } })
      .Parameters.Body;
    expect(body['detailType.$']).toBe(entry['DetailType.$']);
    expect(body['resources.$']).toBe(entry['Resources.$']);
    expect(body.detail).toEqual(entry.Detail);
    expect(Object.keys(body).sort()).toEqual(['detail', 'detailType.$', 'error.$', 'resources.$', 'schema']);
  });

  it('skips Configure only for a CA this run registered with its template and tags', () => {
    const choice = definition.States.NeedsConfiguration as State & {
      Choices: Array<Record<string, unknown>>;
      Default: string;
    };
    expect(choice.Choices).toEqual([
      { Variable: '$.registered.configured', BooleanEquals: true, Next: 'RecordResult' },
    ]);
    expect(choice.Default).toBe('Configure');
    expect(definition.States.Configure?.Next).toBe('Activate');
  });

  it('runs Activate, the receipt and the announcement as service integrations: no function, no invocation to pay for', () => {
    expect(definition.States.Activate?.Resource).toBe('arn:${Partition}:states:::aws-sdk:iot:updateCACertificate');
    expect(definition.States.Activate).toMatchObject({
      Parameters: {
        'CertificateId.$': '$.registered.certificateId',
        NewStatus: 'ACTIVE',
        NewAutoRegistrationStatus: 'ENABLE',
      },
      ResultPath: '$.activation',
    });
    expect(definition.States.RecordResult?.Resource).toBe('arn:${Partition}:states:::aws-sdk:s3:putObject');
    // The failure path classifies the error and builds the report: it keeps its function.
    expect(definition.States.RecordFailure?.Resource).toBe('${RecordResultFunctionArn}');
    expect(integrationTasks.map(([name]) => name).sort()).toEqual([
      'Activate',
      'Announce',
      'NotAnnounced',
      'ReadReceipt',
      'RecordResult',
      'RecordUnchanged',
    ]);
  });

  it("retries an integration's throttling and faults, by the names Step Functions gives them, as a function's", () => {
    for (const [name, state] of integrationTasks) {
      const prefix = servicePrefix(state);
      const retriers = state.Retry ?? [];
      const throttling = INTEGRATION_THROTTLING_ERRORS.filter((error) => error.startsWith(`${prefix}.`));
      const faults = INTEGRATION_FAULT_ERRORS.filter((error) => error.startsWith(`${prefix}.`));
      expect(
        retriers.map((retrier) => retrier.ErrorEquals),
        name,
      ).toEqual([throttling, faults]);
      // The same budgets as ThrottledError and ServiceFaultError (ADR 0001/0002).
      expect(retriers[0], name).toMatchObject({ MaxAttempts: 100, MaxDelaySeconds: 30, JitterStrategy: 'FULL' });
      expect(retriers[1], name).toMatchObject({ MaxAttempts: 10, MaxDelaySeconds: 20, JitterStrategy: 'FULL' });
      for (const retrier of retriers) expect(retrier.BackoffRate, name).toBeGreaterThan(1);
    }
  });

  it('retries exactly the transient errors and Lambda service errors, with exponential backoff and full jitter', () => {
    for (const [name, state] of lambdaTasks) {
      const retried = (state.Retry ?? []).flatMap((retrier) => retrier.ErrorEquals);
      expect(retried.sort(), name).toEqual([...TRANSIENT_ERRORS, ...LAMBDA_SERVICE_ERRORS].sort());
      for (const retrier of state.Retry ?? []) {
        expect(retrier.JitterStrategy, name).toBe('FULL');
        expect(retrier.BackoffRate, name).toBeGreaterThan(1);
      }
    }
  });

  it('waits out throttling long enough for a burst of thousands: 100 attempts, each up to 30 s with full jitter', () => {
    for (const [name, state] of lambdaTasks) {
      const throttling = (state.Retry ?? []).find((retrier) => retrier.ErrorEquals.includes('ThrottledError'));
      expect(throttling, name).toMatchObject({
        ErrorEquals: ['ThrottledError'],
        MaxAttempts: 100,
        MaxDelaySeconds: 30,
        JitterStrategy: 'FULL',
      });
      // A 5xx storm is no queue: faults keep the short budget.
      expect(
        (state.Retry ?? []).find((retrier) => retrier.ErrorEquals.includes('ServiceFaultError'))?.MaxAttempts,
        name,
      ).toBe(10);
    }
  });

  it('never retries a business error', () => {
    const retried = new Set(
      tasks.flatMap(([, state]) => (state.Retry ?? []).flatMap((retrier) => retrier.ErrorEquals)),
    );
    for (const name of BUSINESS_ERRORS) expect(retried.has(name), name).toBe(false);
  });

  it('catches every error, business or not, into RecordFailure once, keeping the input under $.error', () => {
    for (const [name, , catcher] of tasks) {
      // The receipts and the failure report end the flow; Announce catches to NotAnnounced, which
      // catches to AnnouncementLost (the CA is registered either way); ReadReceipt's failure
      // announces (its own test).
      if (
        ['RecordResult', 'RecordUnchanged', 'RecordFailure', 'Announce', 'NotAnnounced', 'ReadReceipt'].includes(name)
      )
        continue;
      // A Task in a Parallel branch fails its Parallel state, which catches for it. A list of the
      // business errors before this catcher would change nothing at run time: the report names the
      // error and its remedy from errors.ts either way (test/reliability/bad-input.test.ts).
      expect((definition.States[catcher] as State).Catch, name).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordFailure' },
      ]);
    }
  });

  it('ends a failed flow in a Fail state after the report is written', () => {
    expect(definition.States.RecordFailure?.Next).toBe('Failed');
    expect(definition.States.Failed?.Type).toBe('Fail');
  });
});

describe('reconcile.asl.json', () => {
  it('is valid Amazon States Language once CloudFormation substitutes the function ARNs', () => {
    const result = validateDeployed('statemachines/reconcile.asl.json');
    expect(result.errorsText('\n')).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('checks deep chunks one at a time (the IoT quota is per account) and retries only transient errors', () => {
    const reconcile = JSON.parse(readFileSync('statemachines/reconcile.asl.json', 'utf8'));
    expect(reconcile.States.DeepCheck).toMatchObject({ Type: 'Map', MaxConcurrency: 1, ItemsPath: '$.plan.chunks' });
    const tasks = [
      reconcile.States.ReconcilePlan,
      reconcile.States.ReconcileReport,
      reconcile.States.DeepCheck.ItemProcessor.States.ReconcileDeep,
    ];
    for (const task of tasks) {
      const retried = task.Retry.flatMap((retrier: { ErrorEquals: string[] }) => retrier.ErrorEquals);
      expect(retried.sort()).toEqual([...TRANSIENT_ERRORS, ...LAMBDA_SERVICE_ERRORS].sort());
    }
  });
});

type AnyStates = Record<
  string,
  { Type: string; ItemProcessor?: { States: AnyStates }; Branches?: Array<{ States: AnyStates }> }
>;
/** A state by name, wherever it is nested (Map item processors, Parallel branches). */
const findState = (states: AnyStates, name: string): unknown =>
  states[name] ??
  Object.values(states)
    .flatMap((state) => [
      ...(state.ItemProcessor ? [state.ItemProcessor.States] : []),
      ...(state.Branches ?? []).map((branch) => branch.States),
    ])
    .map((nested) => findState(nested, name))
    .find((found) => found !== undefined);

describe('the local binding of Tasks to functions', () => {
  it("gives each Task its function's deployed timeout and memory, so a long reconcile is not cut at another function's timeout", () => {
    const app = loadApp();
    const bindings = Object.values(app.stateMachines).flatMap((machine) => Object.values(machine.bindings));
    const byFunction = Object.fromEntries(
      bindings.map((binding) => [binding.functionKey, [binding.timeoutSeconds, binding.memorySize]]),
    );
    expect(byFunction).toMatchObject({
      loadCertificate: [25, 512],
      registerCa: [25, 512],
      reconcilePlan: [890, 512],
      reconcileDeep: [890, 512],
      reconcileReport: [25, 512],
    });
  });

  it("times each function out a few seconds before its Task's TimeoutSeconds, so the function's own timeout is what fails", () => {
    const app = loadApp();
    for (const machine of Object.values(app.stateMachines)) {
      const tasks = Object.values(machine.bindings);
      expect(tasks.length).toBeGreaterThan(0);
      for (const binding of tasks) {
        const task = findState(machine.definition.States, binding.state) as { TimeoutSeconds?: number };
        expect(task.TimeoutSeconds, binding.state).toBeDefined();
        const margin = (task.TimeoutSeconds as number) - binding.timeoutSeconds;
        expect(margin, binding.state).toBeGreaterThanOrEqual(5);
        expect(margin, binding.state).toBeLessThanOrEqual(60);
      }
    }
  });
});
