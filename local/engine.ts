/**
 * Runs the deployable ASL with aws-local-stepfunctions, each Task bound to the handler module
 * serverless.yml names for it, invoked as Lambda would: JSON in, JSON out, and a failure carried
 * as `{errorType, errorMessage}` in the Cause. A Task whose Resource is an AWS SDK integration
 * (`arn:aws:states:::aws-sdk:iot:updateCACertificate`) is one SDK call to the local endpoint,
 * signed as the state machine's role (local/sfn/integrations.ts).
 */
import './polyfills.ts';
import { randomUUID } from 'node:crypto';
import { StateMachine } from 'aws-local-stepfunctions';
import type { Context } from 'aws-lambda';
import type { IntegrationBinding, StateMachineApp, TaskBinding } from './app.ts';
import { type IntegrationCredentials, SdkIntegrations } from './sfn/integrations.ts';

type Handler = (event: unknown, context: Context) => Promise<unknown>;

export interface ExecutionEvent {
  type: string;
  timestamp: number;
  state?: { name: string; type?: string };
  Error?: string;
  Cause?: string;
  retry?: { attempt: number };
}

export interface ExecutionRecord {
  executionArn: string;
  name: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  input: unknown;
  output?: unknown;
  error?: string;
  cause?: string;
  startDate: string;
  stopDate?: string;
  events: ExecutionEvent[];
}

export interface EngineOptions {
  region?: string;
  account?: string;
  /** Fixed pause for every Retry, in ms, instead of the ASL's backoff (tests and benchmarks). */
  retryIntervalMs?: number;
  onEvent?: (record: ExecutionRecord, event: ExecutionEvent) => void;
  /**
   * Runs a Task's function somewhere else than in this thread (the local stack's per-function
   * workers); a rejection's name is the function's error name. Default: the handler imported here.
   */
  invoke?: (binding: TaskBinding, input: unknown) => Promise<unknown>;
  /**
   * Whether the state machine's role may invoke the function: the denial's message, or undefined.
   * A denied invocation fails the Task as Step Functions reports it (Lambda.AWSLambdaException).
   */
  authorizeInvoke?: (binding: TaskBinding) => string | undefined;
  /**
   * The key the state machine's role signs its AWS SDK integrations with (local IAM judges them
   * at the endpoints). Default: the SDK's credential chain, as a test with mocked clients has it.
   */
  integrationCredentials?: IntegrationCredentials;
  /**
   * Runs an AWS SDK integration somewhere else than in this thread (the local stack's integration
   * worker); a rejection's name is Step Functions' error name. Default: the call made here.
   */
  integrate?: (
    service: string,
    action: string,
    parameters: unknown,
    execution?: { executionArn: string; stateMachineArn: string },
  ) => Promise<unknown>;
}

/** What Lambda hands the function: its own deadline (its configured timeout), memory and names. */
const lambdaContext = (binding: TaskBinding, region: string, account: string): Context => {
  const deadline = Date.now() + binding.timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: binding.functionKey,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:${account}:function:${binding.functionKey}`,
    memoryLimitInMB: String(binding.memorySize),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${binding.functionKey}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
};

/** An error as a Task sees it: the function's error name, and Lambda's JSON Cause. */
class TaskError extends Error {
  constructor(name: string, message: string) {
    super(JSON.stringify({ errorType: name, errorMessage: message }));
    this.name = name;
  }
}

export class LocalEngine {
  readonly stateMachineArn: string;
  /**
   * Called before each Task's handler runs, as a fault-injection point for the local stack's own
   * reliability tests (a Lambda that never starts, an operator stopping an execution).
   */
  beforeTask: ((state: string, record: ExecutionRecord) => void | Promise<void>) | undefined;
  private readonly machine: StateMachine;
  /** Every Task (those in Parallel branches and Map iterations too) retries after the fixed pause. */
  private readonly retryIntervalOverrides: Record<string, number> | undefined;
  private readonly handlers = new Map<string, Promise<Handler>>();
  private readonly integrations: SdkIntegrations;
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly running = new Set<Promise<ExecutionRecord>>();

  constructor(
    private readonly app: StateMachineApp,
    private readonly options: EngineOptions = {},
  ) {
    const region = options.region ?? 'us-east-1';
    const account = options.account ?? '000000000000';
    this.stateMachineArn = `arn:aws:states:${region}:${account}:stateMachine:${app.name}`;
    this.machine = new StateMachine(app.definition as never);
    this.integrations = new SdkIntegrations(options.integrationCredentials);
    const pause = options.retryIntervalMs;
    const tasks = [...Object.keys(app.bindings), ...Object.keys(app.integrations ?? {})];
    this.retryIntervalOverrides =
      pause === undefined ? undefined : Object.fromEntries(tasks.map((state) => [state, pause]));
  }

  /** Where a Task's work runs: `lambda`, or `aws-sdk:<service>` (what the history's events name). */
  resourceTypeOf(state: string | undefined): string {
    const integration = state ? this.app.integrations?.[state] : undefined;
    if (!integration) return 'lambda';
    return integration.optimized ? integration.service : `aws-sdk:${integration.service}`;
  }

  /** An SDK integration's Task: the Parameters are the call's input, its output the Task's result. */
  private integrate(binding: IntegrationBinding, record: ExecutionRecord) {
    return async (input: unknown): Promise<unknown> => {
      await this.beforeTask?.(binding.state, record);
      const parameters = JSON.parse(JSON.stringify(input ?? {}));
      // An optimized integration (events:putEvents) adds what it knows of the execution.
      const execution = binding.optimized
        ? { executionArn: record.executionArn, stateMachineArn: this.stateMachineArn }
        : undefined;
      return (this.options.integrate ?? this.integrations.call.bind(this.integrations))(
        binding.service,
        binding.action,
        parameters,
        execution,
      );
    };
  }

  private handlerFor(binding: TaskBinding): Promise<Handler> {
    let handler = this.handlers.get(binding.modulePath);
    if (!handler) {
      handler = import(binding.modulePath).then((module: Record<string, unknown>) => {
        const fn = module[binding.exportName];
        if (typeof fn !== 'function') throw new Error(`${binding.modulePath} exports no ${binding.exportName}`);
        return fn as Handler;
      });
      this.handlers.set(binding.modulePath, handler);
    }
    return handler;
  }

  private invoke(binding: TaskBinding, record: ExecutionRecord) {
    const region = this.options.region ?? 'us-east-1';
    const account = this.options.account ?? '000000000000';
    return async (input: unknown): Promise<unknown> => {
      await this.beforeTask?.(binding.state, record);
      const denial = this.options.authorizeInvoke?.(binding);
      if (denial) throw new TaskError('Lambda.AWSLambdaException', denial);
      const event = JSON.parse(JSON.stringify(input));
      try {
        if (this.options.invoke) return await this.options.invoke(binding, event);
        const handler = await this.handlerFor(binding);
        const output = await handler(event, lambdaContext(binding, region, account));
        return output === undefined ? null : JSON.parse(JSON.stringify(output));
      } catch (error) {
        const failure = error instanceof Error ? error : new Error(String(error));
        throw new TaskError(failure.name || 'Error', failure.message);
      }
    };
  }

  get(executionArn: string): ExecutionRecord | undefined {
    return this.executions.get(executionArn);
  }

  list(): ExecutionRecord[] {
    return [...this.executions.values()];
  }

  /**
   * Starts an execution. As in Step Functions, a name already used fails with
   * ExecutionAlreadyExists (deterministic names are how duplicate starts are refused).
   */
  start(
    input: unknown,
    name: string = randomUUID(),
  ): { record: ExecutionRecord; done: Promise<ExecutionRecord>; abort: () => void } {
    const executionArn = `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    if (this.executions.has(executionArn)) {
      throw Object.assign(new Error(`Execution already exists: '${executionArn}'`), { name: 'ExecutionAlreadyExists' });
    }
    const startDate = new Date().toISOString();
    const record: ExecutionRecord = { executionArn, name, status: 'RUNNING', input, startDate, events: [] };
    this.executions.set(executionArn, record);
    const overrides: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const binding of Object.values(this.app.bindings)) overrides[binding.state] = this.invoke(binding, record);
    for (const binding of Object.values(this.app.integrations ?? {}))
      overrides[binding.state] = this.integrate(binding, record);
    const retryIntervalOverrides = this.retryIntervalOverrides;
    const execution = this.machine.run(input as never, {
      overrides: {
        taskResourceLocalHandlers: overrides as never,
        ...(retryIntervalOverrides ? { retryIntervalOverrides } : {}),
      },
      context: {
        Execution: { Id: executionArn, Name: name, Input: input as never, StartTime: startDate, RoleArn: 'local' },
        // aws-local-stepfunctions fills no `$$.State`: its EnteredTime is read as a state's
        // Parameters are evaluated, which is when the state is entered (a retry reads it anew).
        State: {
          get EnteredTime() {
            return new Date().toISOString();
          },
        },
      } as never,
    });
    const follow = (async () => {
      for await (const event of execution.eventLogs as AsyncIterable<ExecutionEvent>) {
        record.events.push(event);
        this.options.onEvent?.(record, event);
      }
    })();
    const done = execution.result.then(
      (output: unknown) => ({ status: 'SUCCEEDED' as const, output }),
      () => ({ status: 'FAILED' as const }),
    );
    const finished = Promise.all([done, follow]).then(([outcome]) => {
      // The engine's rejection wraps the error; the ExecutionFailed event carries its real name and cause.
      const failed = record.events.findLast((event) => event.type === 'ExecutionFailed');
      const aborted = record.events.some((event) => event.type === 'ExecutionAborted');
      return Object.assign(record, aborted ? { status: 'ABORTED' as const } : outcome, {
        ...(failed ? { error: failed.Error ?? 'States.Runtime', cause: failed.Cause ?? '' } : {}),
        stopDate: new Date().toISOString(),
      });
    });
    this.running.add(finished);
    void finished.finally(() => this.running.delete(finished));
    return { record, done: finished, abort: () => execution.abort() };
  }

  get busy(): boolean {
    return this.running.size > 0;
  }

  /** Resolves when no execution of this state machine is running. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** Starts an execution and waits for its end. */
  async run(input: unknown, name?: string): Promise<ExecutionRecord> {
    return this.start(input, name).done;
  }
}
