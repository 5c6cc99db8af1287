/**
 * The embedded stack's state machines: one local engine per state machine of the template, its
 * Tasks run in the functions' workers and its AWS SDK integrations in its role's own worker.
 */
import { LOCAL_ACCOUNT, LOCAL_REGION, type App, type StateMachineApp, type TaskBinding } from './app.ts';
import { LocalEngine } from './engine.ts';
import type { LocalIam } from './iam/enforce.ts';
import { FunctionWorkers } from './lambda/workers.ts';
import { IntegrationWorker } from './sfn/integration-worker.ts';
import type { StackOptions } from './stack-types.ts';

export type EngineOptions = Pick<StackOptions, 'retryIntervalMs' | 'onExecutionEvent' | 'bundles'>;

/** The engines by state machine id, and how to stop the workers they run on. */
export const createEngines = (
  app: App,
  iam: LocalIam,
  options: EngineOptions,
): { engines: Record<string, LocalEngine>; workers: { stop(): Promise<unknown> } } => {
  const workers = new FunctionWorkers(app.functions, () => ({ ...process.env }), iam.identityOf);
  // One worker per state machine role for its SDK integrations, as each function has its own.
  const integrationWorkers = new Map<string, IntegrationWorker>();
  const integrationWorker = (stateMachineId: string): IntegrationWorker => {
    let worker = integrationWorkers.get(stateMachineId);
    if (!worker) {
      worker = new IntegrationWorker(iam.stateMachineIdentity(stateMachineId), () => ({ ...process.env }));
      integrationWorkers.set(stateMachineId, worker);
    }
    return worker;
  };
  const engineOptions = (stateMachineId: string) => ({
    region: LOCAL_REGION,
    account: LOCAL_ACCOUNT,
    ...(options.retryIntervalMs !== undefined ? { retryIntervalMs: options.retryIntervalMs } : {}),
    ...(options.onExecutionEvent ? { onEvent: options.onExecutionEvent } : {}),
    invoke: (binding: TaskBinding, input: unknown) => workers.invoke(binding, input),
    authorizeInvoke: iam.invokeCheck(stateMachineId),
    integrationCredentials: iam.stateMachineIdentity(stateMachineId),
    integrate: integrationWorker(stateMachineId).call.bind(integrationWorker(stateMachineId)),
  });
  const onBundles = (app: StateMachineApp): StateMachineApp => {
    const bundles = options.bundles;
    if (!bundles) return app;
    const bindings = Object.fromEntries(
      Object.entries(app.bindings).map(([state, binding]) => {
        const modulePath = bundles[binding.functionKey];
        if (!modulePath) throw new Error(`no bundle for function ${binding.functionKey}`);
        return [state, { ...binding, modulePath }];
      }),
    );
    return { ...app, bindings };
  };
  // Every state machine of the template runs; retire-ca stands in as a failing one until declared.
  const engines: Record<string, LocalEngine> = {};
  for (const [machineId, machine] of Object.entries({
    RetireCaStateMachine: missingRetire(app),
    ...app.stateMachines,
  }))
    engines[machineId] = new LocalEngine(onBundles(machine), engineOptions(machineId));
  return {
    engines,
    workers: {
      stop: () => Promise.all([workers.stop(), ...[...integrationWorkers.values()].map((worker) => worker.stop())]),
    },
  };
};

/**
 * retire-ca until serverless.yml declares it (RetireCaStateMachine): an execution fails at once,
 * naming what is missing, rather than the stack refusing to start.
 */
const missingRetire = (app: App): StateMachineApp => ({
  name: `${app.service}-${app.stage}-retire-ca`,
  definition: {
    StartAt: 'NotDeclared',
    States: {
      NotDeclared: { Type: 'Fail', Error: 'States.Runtime', Cause: 'serverless.yml declares no RetireCaStateMachine.' },
    },
  },
  bindings: {},
  integrations: {},
});
