/**
 * The few Step Functions calls the CLI makes, on AWS's JSON 1.0 wire (X-Amz-Target), so that
 * `iot-ca` uses the same @aws-sdk/client-sfn code against the local engine and against AWS.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ExecutionEvent, ExecutionRecord, LocalEngine } from '../engine.ts';
import { listen, type RunningServer, signingKeyId } from '../iot/server.ts';

class SfnError extends Error {
  constructor(
    override readonly name: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const epoch = (iso: string | undefined): number | undefined => (iso ? Date.parse(iso) / 1000 : undefined);

const STATE_EVENT_TYPE: Record<string, string> = {
  Task: 'Task',
  Choice: 'Choice',
  Fail: 'Fail',
  Succeed: 'Succeed',
  Pass: 'Pass',
  Wait: 'Wait',
  Map: 'Map',
  Parallel: 'Parallel',
};

/**
 * Engine events in the shape of GetExecutionHistory's HistoryEvent. A Task's work shows as AWS
 * shows it: TaskScheduled as it starts, then TaskSucceeded or TaskFailed, each naming the
 * resource type (`lambda`, or `aws-sdk:iot` for an SDK integration) and, locally, the state.
 */
const historyEvents = (engine: LocalEngine, record: ExecutionRecord): Array<Record<string, unknown>> => {
  /** Task states whose last attempt failed since they were entered (no TaskSucceeded for them). */
  const failing = new Set<string>();
  const events = record.events.flatMap((event: ExecutionEvent, index): Array<Record<string, unknown>> => {
    const base = { timestamp: event.timestamp / 1000, index };
    const prefix = STATE_EVENT_TYPE[event.state?.type ?? ''] ?? 'Task';
    const name = event.state?.name;
    const task = { resourceType: engine.resourceTypeOf(name), resource: name };
    const taskFailed = (error: string | undefined, cause: string | undefined) => ({
      ...base,
      type: 'TaskFailed',
      taskFailedEventDetails: { ...task, error, cause },
    });
    const scheduled = { ...base, type: 'TaskScheduled', taskScheduledEventDetails: { ...task, region: 'local' } };
    switch (event.type) {
      case 'ExecutionStarted':
        return [
          { ...base, type: 'ExecutionStarted', executionStartedEventDetails: { input: JSON.stringify(record.input) } },
        ];
      case 'ExecutionSucceeded':
        return [
          {
            ...base,
            type: 'ExecutionSucceeded',
            executionSucceededEventDetails: { output: JSON.stringify(record.output ?? null) },
          },
        ];
      case 'ExecutionFailed':
        return [
          { ...base, type: 'ExecutionFailed', executionFailedEventDetails: { error: event.Error, cause: event.Cause } },
        ];
      case 'StateEntered': {
        const entered = { ...base, type: `${prefix}StateEntered`, stateEnteredEventDetails: { name } };
        if (prefix !== 'Task' || !name) return [entered];
        failing.delete(name);
        return [entered, scheduled];
      }
      case 'StateExited': {
        const exited = { ...base, type: `${prefix}StateExited`, stateExitedEventDetails: { name } };
        if (prefix !== 'Task' || !name || failing.has(name)) return [exited];
        return [{ ...base, type: 'TaskSucceeded', taskSucceededEventDetails: task }, exited];
      }
      case 'StateFailed':
        if (name) failing.add(name);
        return [taskFailed(event.Error, event.Cause)];
      case 'StateRetried':
        // The next attempt follows at once: scheduled again, as on AWS.
        if (name) failing.delete(name);
        return [
          taskFailed('Retried', `attempt ${event.retry?.attempt ?? ''}`),
          ...(prefix === 'Task' ? [scheduled] : []),
        ];
      default:
        return [];
    }
  });
  return events.map(({ index: _index, ...event }, position) => ({
    ...event,
    id: position + 1,
    previousEventId: position,
  }));
};

const describe = (engine: LocalEngine, record: ExecutionRecord) => ({
  executionArn: record.executionArn,
  stateMachineArn: engine.stateMachineArn,
  name: record.name,
  status: record.status,
  startDate: epoch(record.startDate),
  ...(record.stopDate ? { stopDate: epoch(record.stopDate) } : {}),
  input: JSON.stringify(record.input),
  ...(record.output !== undefined ? { output: JSON.stringify(record.output) } : {}),
  ...(record.error ? { error: record.error, cause: record.cause ?? '' } : {}),
});

const execution = (engine: LocalEngine, arn: unknown): ExecutionRecord => {
  const record = typeof arn === 'string' ? engine.get(arn) : undefined;
  if (!record) throw new SfnError('ExecutionDoesNotExist', `Execution does not exist: '${String(arn)}'`);
  return record;
};

const machineEngine = (engines: LocalEngine[], arn: unknown): LocalEngine => {
  const engine = engines.find((candidate) => candidate.stateMachineArn === arn);
  if (!engine) throw new SfnError('StateMachineDoesNotExist', `State machine does not exist: '${String(arn)}'`);
  return engine;
};

/** The engine that ran an execution: its ARN is the state machine's with `execution` for `stateMachine`. */
const executionEngine = (engines: LocalEngine[], arn: unknown): LocalEngine => {
  const engine = engines.find(
    (candidate) =>
      typeof arn === 'string' &&
      arn.startsWith(`${candidate.stateMachineArn.replace(':stateMachine:', ':execution:')}:`),
  );
  if (!engine) throw new SfnError('ExecutionDoesNotExist', `Execution does not exist: '${String(arn)}'`);
  return engine;
};

const operations: Record<string, (engines: LocalEngine[], body: Record<string, any>) => unknown> = {
  StartExecution: (engines, body) => {
    const engine = machineEngine(engines, body.stateMachineArn);
    let input: unknown;
    try {
      input = JSON.parse(body.input ?? '{}');
    } catch {
      throw new SfnError('InvalidExecutionInput', 'The input is not valid JSON.');
    }
    try {
      const { record } = engine.start(input, body.name);
      return { executionArn: record.executionArn, startDate: epoch(record.startDate) };
    } catch (error) {
      if ((error as Error).name === 'ExecutionAlreadyExists')
        throw new SfnError('ExecutionAlreadyExists', (error as Error).message);
      throw error;
    }
  },
  DescribeExecution: (engines, body) => {
    const engine = executionEngine(engines, body.executionArn);
    return describe(engine, execution(engine, body.executionArn));
  },
  ListExecutions: (engines, body) => {
    const engine = machineEngine(engines, body.stateMachineArn);
    const all = engine
      .list()
      .filter((record) => !body.statusFilter || record.status === body.statusFilter)
      .sort((a, b) => b.startDate.localeCompare(a.startDate));
    const start = body.nextToken ? Number(body.nextToken) : 0;
    const max = body.maxResults || 100;
    const page = all.slice(start, start + max);
    return {
      executions: page.map((record) => {
        const {
          input: _input,
          output: _output,
          error: _error,
          cause: _cause,
          ...summary
        } = describe(engine, record) as Record<string, unknown>;
        return summary;
      }),
      ...(start + max < all.length ? { nextToken: String(start + max) } : {}),
    };
  },
  GetExecutionHistory: (engines, body) => {
    const engine = executionEngine(engines, body.executionArn);
    const events = historyEvents(engine, execution(engine, body.executionArn));
    return { events: body.reverseOrder ? events.reverse() : events };
  },
  DescribeStateMachine: (engines, body) => {
    const engine = machineEngine(engines, body.stateMachineArn);
    return {
      stateMachineArn: engine.stateMachineArn,
      name: engine.stateMachineArn.split(':').at(-1),
      status: 'ACTIVE',
      type: 'STANDARD',
      definition: '{}',
      roleArn: 'local',
      creationDate: 0,
    };
  },
};

const readJson = async (request: IncomingMessage): Promise<Record<string, any>> => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : {};
};

const send = (response: ServerResponse, status: number, body: unknown): void => {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
};

/**
 * The caller's SigV4 access key id, the operation and its input: the denial's message when IAM
 * refuses the call (answered as AccessDeniedException, 400, as Step Functions does), or undefined.
 */
export type AuthorizeSfn = (
  accessKeyId: string,
  operation: string,
  body: Record<string, unknown>,
) => string | undefined;

export const startSfnServer = (engines: LocalEngine[], port = 0, authorize?: AuthorizeSfn): Promise<RunningServer> =>
  listen(async (request, response) => {
    try {
      const target = String(request.headers['x-amz-target'] ?? '');
      const name = target.replace(/^AWSStepFunctions\./, '');
      const operation = operations[name];
      if (!operation)
        throw new SfnError(
          'UnknownOperationException',
          `The local Step Functions endpoint does not implement ${target || 'this request'}.`,
          501,
        );
      const body = await readJson(request);
      const denial = authorize?.(signingKeyId(request.headers.authorization), name, body);
      if (denial) throw new SfnError('AccessDeniedException', denial);
      send(response, 200, operation(engines, body));
    } catch (error) {
      const failure =
        error instanceof SfnError ? error : new SfnError('InternalServerError', (error as Error).message, 500);
      send(response, failure.status, { __type: `com.amazonaws.states#${failure.name}`, message: failure.message });
    }
  }, port);
