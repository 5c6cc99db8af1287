/** Finding and following register-ca executions, with the same SDK calls locally and on AWS. */
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  type DescribeExecutionCommandOutput,
  paginateGetExecutionHistory,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { findJson } from '../functions/aws/s3.ts';
import { keyCandidates, parseStartInput, resultKeyFor } from '../functions/core/source.ts';
import type { Receipt, FailureReport } from '../functions/core/results.ts';
import type { Target } from './context.ts';
import { CliError } from './output.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pollInterval = (target: Target) => (target.kind === 'deployed' ? 1000 : 100);

/**
 * Finds the executions that S3's events started for uploaded keys. EventBridge names executions
 * itself, so each is found by its input among the executions started since the upload; every
 * execution is described once, however many keys are awaited (a bulk drop waits for many).
 */
export class ExecutionFinder {
  private readonly checked = new Set<string>();
  private readonly found = new Map<string, string>();

  constructor(
    private readonly target: Target,
    private readonly since: Date,
  ) {}

  /** One look at the executions started since the upload; returns what is known so far. */
  async poll(): Promise<Map<string, string>> {
    let nextToken: string | undefined;
    do {
      const listed = await this.target.sfn.send(
        new ListExecutionsCommand({
          stateMachineArn: this.target.stateMachineArn,
          maxResults: 100,
          ...(nextToken ? { nextToken } : {}),
        }),
      );
      nextToken = listed.nextToken;
      for (const execution of listed.executions ?? []) {
        const arn = execution.executionArn as string;
        // Newest first: once older than the upload, the rest are too.
        if (execution.startDate && execution.startDate.getTime() < this.since.getTime() - 5_000) nextToken = undefined;
        if (
          this.checked.has(arn) ||
          (execution.startDate && execution.startDate.getTime() < this.since.getTime() - 5_000)
        )
          continue;
        this.checked.add(arn);
        const described = await this.target.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
        try {
          // The newest execution for a key is the one listed first.
          for (const key of keyCandidates(parseStartInput(JSON.parse(described.input ?? '{}')).key))
            if (!this.found.has(key)) this.found.set(key, arn);
        } catch {
          // an execution with another input shape is not ours
        }
      }
    } while (nextToken);
    return this.found;
  }

  /** Waits until every key has its execution, or the deadline; returns those found. */
  async waitFor(keys: string[], timeoutMs: number): Promise<Map<string, string>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.poll();
      if (keys.every((key) => this.found.has(key)) || Date.now() >= deadline) return this.found;
      await sleep(pollInterval(this.target));
    }
  }
}

export const EXECUTION_TIMEOUT_MS = 120_000;

/** The execution that S3's event started for `key`. */
export const findExecution = async (
  target: Target,
  key: string,
  since: Date,
  timeoutMs = EXECUTION_TIMEOUT_MS,
): Promise<string> => {
  const arn = (await new ExecutionFinder(target, since).waitFor([key], timeoutMs)).get(key);
  if (arn) return arn;
  throw new CliError(
    'ExecutionNotFoundError',
    `No execution started for ${key} within ${timeoutMs / 1000}s, though its key matches the trigger (${target.rule.patterns.join(', ')}); is the bucket's EventBridge rule enabled?`,
  );
};

export interface Step {
  name: string;
  ms: number;
  outcome: 'ok' | 'failed' | 'retried';
  error?: string;
}

export interface ExecutionOutcome {
  executionArn: string;
  status: string;
  error?: string;
  cause?: string;
  steps: Step[];
}

const stateName = (event: HistoryEvent): string | undefined =>
  event.stateEnteredEventDetails?.name ?? event.stateExitedEventDetails?.name;

/**
 * Turns history events into one line per state, decided when the state exits: failed (✗) when
 * its last task attempt failed and a Catch moved on, else ok (✓); each retry is its own ↻ line as
 * it happens. On AWS a retry is a TaskFailed followed by another attempt; locally it is a
 * TaskFailed named `Retried`.
 */
export class StepTracker {
  private readonly entered = new Map<string, number>();
  /** States entered and not yet exited, in order: a TaskFailed belongs to the latest of them. */
  private readonly open: string[] = [];
  private readonly lastError = new Map<string, string>();
  readonly steps: Step[] = [];

  constructor(private readonly onStep: (step: Step) => void) {}

  private emit(step: Step): void {
    this.steps.push(step);
    this.onStep(step);
  }

  add(event: HistoryEvent): void {
    const name = stateName(event);
    const at = event.timestamp?.getTime() ?? Date.now();
    if (event.type?.endsWith('StateEntered') && name) {
      this.entered.set(name, at);
      this.lastError.delete(name);
      this.open.push(name);
    } else if (event.type?.endsWith('StateExited') && name) {
      const index = this.open.lastIndexOf(name);
      if (index >= 0) this.open.splice(index, 1);
      const error = this.lastError.get(name);
      this.emit({
        name,
        ms: at - (this.entered.get(name) ?? at),
        outcome: error ? 'failed' : 'ok',
        ...(error ? { error } : {}),
      });
      this.lastError.delete(name);
    } else if (event.type === 'TaskFailed' && event.taskFailedEventDetails) {
      const details = event.taskFailedEventDetails;
      const state = details.resource && this.open.includes(details.resource) ? details.resource : this.open.at(-1);
      if (!state) return;
      if (details.error === 'Retried') {
        const error = this.lastError.get(state);
        this.lastError.delete(state);
        this.emit({
          name: state,
          ms: at - (this.entered.get(state) ?? at),
          outcome: 'retried',
          ...(error ? { error } : {}),
        });
      } else {
        this.lastError.set(state, details.error ?? 'TaskFailed');
      }
    } else if ((event.type === 'TaskScheduled' || event.type === 'TaskSucceeded') && this.open.length > 0) {
      // AWS: another attempt after a failure was a retry; a success clears the failure.
      const state = this.open.at(-1) as string;
      const error = this.lastError.get(state);
      if (error) {
        this.lastError.delete(state);
        if (event.type === 'TaskScheduled')
          this.emit({ name: state, ms: at - (this.entered.get(state) ?? at), outcome: 'retried', error });
      }
    }
  }

  /** At the end of an execution, states that failed and never exited (nothing caught the error). */
  finish(): void {
    for (const state of [...this.open]) {
      const error = this.lastError.get(state);
      if (error)
        this.emit({ name: state, ms: Date.now() - (this.entered.get(state) ?? Date.now()), outcome: 'failed', error });
    }
    this.open.length = 0;
  }
}

const history = async (target: Target, executionArn: string): Promise<HistoryEvent[]> => {
  const events: HistoryEvent[] = [];
  for await (const page of paginateGetExecutionHistory({ client: target.sfn, pageSize: 1000 }, { executionArn }))
    events.push(...(page.events ?? []));
  return events;
};

/** An execution's status, error and cause as DescribeExecution gives them, with its steps. */
const outcomeOf = (
  executionArn: string,
  described: DescribeExecutionCommandOutput,
  steps: Step[],
): ExecutionOutcome => ({
  executionArn,
  status: described.status ?? 'UNKNOWN',
  ...(described.error ? { error: described.error } : {}),
  ...(described.cause ? { cause: described.cause } : {}),
  steps,
});

/**
 * Follows an execution until it ends. With `onStep`, each state is reported as it ends (history
 * read on every poll); without, only the status is polled and the history read once at the end,
 * which is what many executions followed at once can afford.
 */
export const followExecution = async (
  target: Target,
  executionArn: string,
  onStep?: (step: Step) => void,
  /**
   * Stops following an execution that still runs once this says so (retire-ca waiting out days
   * before a delete, after it has reported): the outcome then has status RUNNING.
   */
  until?: () => Promise<boolean>,
): Promise<ExecutionOutcome> => {
  const tracker = new StepTracker(onStep ?? (() => undefined));
  let seen = 0;
  for (;;) {
    const described = await target.sfn.send(new DescribeExecutionCommand({ executionArn }));
    const done = described.status !== 'RUNNING';
    if (onStep || done) {
      const events = await history(target, executionArn);
      for (const event of events.slice(seen)) tracker.add(event);
      seen = events.length;
    }
    if (done) {
      tracker.finish();
      return outcomeOf(executionArn, described, tracker.steps);
    }
    if (until && (await until())) return outcomeOf(executionArn, described, tracker.steps);
    await sleep(pollInterval(target));
  }
};

/** An execution as it stands now (running or ended), with its steps so far; undefined when it is gone. */
export const snapshotExecution = async (
  target: Target,
  executionArn: string,
): Promise<ExecutionOutcome | undefined> => {
  let described: DescribeExecutionCommandOutput;
  try {
    described = await target.sfn.send(new DescribeExecutionCommand({ executionArn }));
  } catch (error) {
    if ((error as Error).name === 'ExecutionDoesNotExist') return undefined;
    throw error;
  }
  const tracker = new StepTracker(() => undefined);
  for (const event of await history(target, executionArn)) tracker.add(event);
  if (described.status !== 'RUNNING') tracker.finish();
  return outcomeOf(executionArn, described, tracker.steps);
};

/** A JSON object of the bucket; undefined when there is none. */
export const readJson = <T>(target: Target, key: string): Promise<T | undefined> =>
  findJson<T>(target.s3, target.bucket, key);

/** Every key under a prefix. */
export const listKeys = async (target: Target, prefix: string): Promise<string[]> => {
  const keys: string[] = [];
  for await (const page of paginateListObjectsV2({ client: target.s3 }, { Bucket: target.bucket, Prefix: prefix })) {
    keys.push(...(page.Contents ?? []).map((object) => object.Key as string));
  }
  return keys;
};

export const readResult = (target: Target, sourceKey: string): Promise<Receipt | FailureReport | undefined> =>
  readJson(target, resultKeyFor(sourceKey, target.resultsPrefix));
