/** Finding and following register-ca executions, with the same SDK calls locally and on AWS. */
import { DescribeExecutionCommand, GetExecutionHistoryCommand, ListExecutionsCommand, type HistoryEvent } from '@aws-sdk/client-sfn';
import { getJson, isMissingObject } from '../functions/lib/s3.ts';
import { parseStartInput, resultKeyFor } from '../functions/lib/source.ts';
import type { Receipt, FailureReport } from '../functions/lib/results.ts';
import type { Target } from './context.ts';
import { CliError } from './output.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pollInterval = (target: Target) => (target.kind === 'deployed' ? 1000 : 100);

/**
 * The execution that S3's event started for `key`: EventBridge names executions itself, so it is
 * found by its input among the executions started since the upload.
 */
export const findExecution = async (target: Target, key: string, since: Date, timeoutMs = 120_000): Promise<string> => {
  const deadline = Date.now() + timeoutMs;
  const checked = new Set<string>();
  while (Date.now() < deadline) {
    const listed = await target.sfn.send(new ListExecutionsCommand({ stateMachineArn: target.stateMachineArn, maxResults: 100 }));
    for (const execution of listed.executions ?? []) {
      const arn = execution.executionArn as string;
      if (checked.has(arn) || (execution.startDate && execution.startDate.getTime() < since.getTime() - 5_000)) continue;
      checked.add(arn);
      const described = await target.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
      try {
        if (parseStartInput(JSON.parse(described.input ?? '{}')).key === key) return arn;
      } catch {
        // an execution with another input shape is not ours
      }
    }
    await sleep(pollInterval(target));
  }
  throw new CliError('ExecutionNotFoundError', `No execution started for ${key} within ${timeoutMs / 1000}s; is the bucket's EventBridge rule enabled?`);
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

const stateName = (event: HistoryEvent): string | undefined => event.stateEnteredEventDetails?.name ?? event.stateExitedEventDetails?.name;

/** Follows an execution step by step until it ends, reporting each state with its duration. */
export const followExecution = async (target: Target, executionArn: string, onStep: (step: Step) => void): Promise<ExecutionOutcome> => {
  const entered = new Map<string, number>();
  const steps: Step[] = [];
  let seen = 0;
  for (;;) {
    const described = await target.sfn.send(new DescribeExecutionCommand({ executionArn }));
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    do {
      const page = await target.sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, ...(nextToken ? { nextToken } : {}) }));
      events.push(...(page.events ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    for (const event of events.slice(seen)) {
      const name = stateName(event);
      const at = event.timestamp?.getTime() ?? Date.now();
      if (event.type?.endsWith('StateEntered') && name) entered.set(name, at);
      if (event.type?.endsWith('StateExited') && name) {
        const step: Step = { name, ms: at - (entered.get(name) ?? at), outcome: 'ok' };
        steps.push(step);
        onStep(step);
      }
      if (event.type === 'TaskFailed' && event.taskFailedEventDetails) {
        const details = event.taskFailedEventDetails;
        const step: Step = {
          name: details.resource ?? 'task',
          ms: at - (entered.get(details.resource ?? '') ?? at),
          outcome: details.error === 'Retried' ? 'retried' : 'failed',
          ...(details.error ? { error: details.error } : {}),
        };
        steps.push(step);
        onStep(step);
      }
    }
    seen = events.length;
    if (described.status !== 'RUNNING') {
      return {
        executionArn,
        status: described.status ?? 'UNKNOWN',
        ...(described.error ? { error: described.error } : {}),
        ...(described.cause ? { cause: described.cause } : {}),
        steps,
      };
    }
    await sleep(pollInterval(target));
  }
};

/** A JSON object of the bucket; undefined when there is none. */
export const readJson = <T>(target: Target, key: string): Promise<T | undefined> =>
  getJson<T>(target.s3, target.bucket, key).catch((error: unknown) => (isMissingObject(error) ? undefined : Promise.reject(error)));

export const readResult = (target: Target, sourceKey: string): Promise<Receipt | FailureReport | undefined> =>
  readJson(target, resultKeyFor(sourceKey, target.resultsPrefix));
