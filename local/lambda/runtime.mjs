/**
 * One Lambda function's runtime, in its own worker thread: its own environment (and so its own
 * credentials), module state and SDK clients, as a Lambda container has. Plain JavaScript so that
 * Node can start it without a loader; TypeScript handlers are loaded through tsx.
 */
import { randomUUID } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';

const { modulePath, exportName, functionName, functionArn, memorySize } = workerData;

const load = async () => {
  if (/\.[cm]?ts$/.test(modulePath)) {
    const { register } = await import('tsx/esm/api');
    register();
  }
  const module = await import(modulePath);
  const handler = module[exportName];
  if (typeof handler !== 'function') throw new Error(`${modulePath} exports no ${exportName}`);
  return handler;
};

const handler = load();
// A module that cannot load fails each invocation as Lambda's runtime reports it.
handler.catch(() => undefined);

const contextFor = (timeoutMs) => {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: functionArn,
    memoryLimitInMB: String(memorySize),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
};

parentPort.on('message', async ({ id, event, timeoutMs }) => {
  try {
    let fn;
    try {
      fn = await handler;
    } catch (error) {
      parentPort.postMessage({
        id,
        error: { name: 'Runtime.ImportModuleError', message: String(error?.message ?? error) },
      });
      return;
    }
    const output = await fn(event, contextFor(timeoutMs));
    parentPort.postMessage({ id, output: output === undefined ? null : JSON.parse(JSON.stringify(output)) });
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    parentPort.postMessage({ id, error: { name: failure.name || 'Error', message: failure.message } });
  }
});
