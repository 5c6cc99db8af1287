/**
 * The SDK integrations of one state machine role, in a worker thread of their own: Step Functions
 * makes these calls on its own fleet, so the embedded stack keeps their SDK work (serializing,
 * signing, parsing) off the main thread that serves S3, IoT and the engine. Plain JavaScript so
 * that Node starts it without a loader; integrations.ts is loaded through tsx.
 */
import { parentPort, workerData } from 'node:worker_threads';

const load = async () => {
  const { register } = await import('tsx/esm/api');
  register();
  const { SdkIntegrations } = await import('./integrations.ts');
  return new SdkIntegrations(workerData.credentials);
};
const integrations = load();
integrations.catch(() => undefined);

parentPort.on('message', async ({ id, service, action, parameters, execution }) => {
  try {
    const output = await (await integrations).call(service, action, parameters, execution);
    parentPort.postMessage({ id, output });
  } catch (error) {
    parentPort.postMessage({ id, error: { name: error?.name ?? 'States.Runtime', message: error?.message ?? '' } });
  }
});
