/**
 * The embedded stack: s3rver, the IoT, KMS and Private CA emulators and the local Step Functions
 * engine in one process, wired as the deployment wires AWS. S3 object events become EventBridge
 * `Object Created` and `Object Deleted` events on the local bus (local/events/), which delivers
 * them, and the pipeline's own events, by the rules serverless.yml declares; the handlers find
 * the servers only through the SDK's standard AWS_ENDPOINT_URL_* variables.
 */
import { mkdirSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import {
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  loadApp,
  PROJECT_ROOT,
  type App,
  type StateMachineApp,
  type TaskBinding,
} from './app.ts';
import { LocalEngine, type ExecutionEvent, type ExecutionRecord } from './engine.ts';
import { IotEmulator, IotError, type FaultSettings, type IotEvent } from './iot/emulator.ts';
import { MqttBroker, type MqttEndpoint } from './mqtt/broker.ts';
import { startIotServer, type RunningServer } from './iot/server.ts';
import { startSfnServer } from './sfn/server.ts';
import {
  eventsAuthorizer,
  iotAuthorizer,
  kmsAuthorizer,
  type LocalIam,
  localIam,
  pcaAuthorizer,
  s3Authorizer,
  sfnAuthorizer,
} from './iam/enforce.ts';
import { KmsService } from './kms/service.ts';
import { startKmsServer } from './kms/server.ts';
import { PcaService } from './pca/service.ts';
import { startPcaServer } from './pca/server.ts';
import { FunctionWorkers } from './lambda/workers.ts';
import { IntegrationWorker } from './sfn/integration-worker.ts';
import type { Role } from './iam/roles.ts';
import type { Denial } from './iam/guard.ts';
import { writeFileAtomic } from './iot/store.ts';
import { type BusEvent, LocalBus, logFileName } from './events/bus.ts';
import { startEventsServer } from './events/server.ts';
import { type S3Record, s3ToEventBridge } from './events/s3.ts';
import './events/s3-delete-objects.ts';
import { withoutRequestLog } from './s3rver-compat.ts';

export { eventKey } from './events/s3.ts';

const S3rver = createRequire(import.meta.url)('s3rver') as new (
  options: Record<string, unknown>,
) => {
  run(): Promise<{ port: number }>;
  /** Koa's middleware list: what runs before s3rver's own goes first. */
  middleware: unknown[];
  close(): Promise<void>;
  on(event: 'event', listener: (event: { Records: S3Record[] }) => void): void;
  httpServer?: { closeAllConnections(): void };
};

/** The account s3rver authenticates every key against (SigV4 signatures are not checked). */
const S3RVER_ACCOUNT = (
  createRequire(import.meta.url)('s3rver/lib/models/account') as {
    DUMMY_ACCOUNT: { createKeyPair(accessKeyId: string, secretAccessKey: string): void };
  }
).DUMMY_ACCOUNT;

const LOCAL_PLACE = { region: LOCAL_REGION, account: LOCAL_ACCOUNT };

/** The local stack's bucket, in the place of the stack's generated CA bucket. */
export const LOCAL_BUCKET = 'iot-ca-local';
/** s3rver accepts only these credentials; the SDK signs every local call with them. */
const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export const defaultStateDir = (): string => resolve(process.env.IOT_CA_HOME ?? join(process.cwd(), '.iot-ca'));

export interface StackOptions {
  stateDir?: string;
  faults?: FaultSettings;
  /** Fixed pause for every ASL retry, ms (default: the ASL's own backoff). */
  retryIntervalMs?: number;
  ports?: { s3?: number; iot?: number; sfn?: number; mqtt?: number; kms?: number; pca?: number; events?: number };
  onExecutionEvent?: (record: ExecutionRecord, event: ExecutionEvent) => void;
  /** Log level for the functions' Powertools logger (default WARN: the CLI prints its own view). */
  logLevel?: string;
  /** serverless.yml params for this stack, over `params.default` (as `params.<stage>` would be). */
  params?: Record<string, string>;
  /** Run the reconcile schedules serverless.yml declares (as EventBridge would). Off by default. */
  schedules?: boolean;
  /**
   * Run each Task on the function's deployable bundle (build/bundle.ts) instead of its source:
   * function key → bundle path. What a deployment runs, bundled SDK and all.
   */
  bundles?: Record<string, string>;
  /**
   * Evaluate each caller's IAM role at the local endpoints (default true; `iot-ca up --no-iam`).
   * Functions always run in workers of their own, with credentials naming their role.
   */
  iam?: boolean;
  /**
   * Called with what the data plane does: certificates registered on a device's first connection,
   * JITP outcomes (provisioned, failed, throttled), refused connections and denied requests.
   */
  onIotEvent?: (event: IotEvent) => void;
  /** Called with each call IAM refuses (`iot-ca up` prints them). */
  onDenial?: (denial: Denial) => void;
  /** Called with every event put on the local bus (S3's and the pipeline's own), before delivery. */
  onBusEvent?: (event: BusEvent) => void;
  /** Changes the roles serverless.yml declares before the stack enforces them (tests take statements out). */
  adjustRoles?: (roles: Record<string, Role>) => Record<string, Role>;
}

export interface Endpoints {
  s3: string;
  iot: string;
  sfn: string;
  /** The MQTT broker devices connect to (TLS, SNI `servername`, trusting `caFile`). */
  mqtt: MqttEndpoint;
  /** KMS and Private CA (JSON 1.1); their keys live in this process's memory only. */
  kms: string;
  pca: string;
  /** EventBridge's PutEvents (JSON 1.1) for the default bus (AWS_ENDPOINT_URL_EVENTBRIDGE). */
  events: string;
}

/** What `iot-ca up` leaves in the state directory for other `iot-ca --local` commands. */
export interface StackInfo {
  pid: number;
  endpoints: Endpoints;
  bucket: string;
  stateMachineArn: string;
  reconcileStateMachineArn: string;
  retireStateMachineArn: string;
  /** One EventBridge event envelope per line: the pipeline's events, as its log group holds them on AWS. */
  eventsLogFile: string;
  region: string;
  incomingPrefix: string;
  resultsPrefix: string;
}

export const STACK_FILE = 'stack.json';
/** Held by the one `iot-ca up` of a state directory: its pid, created exclusively. */
export const LOCK_FILE = 'up.lock';

/** Whether a process lives (EPERM: it does, but belongs to someone else). */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** The live process holding a state directory's `up` lock, with what it advertised (once it has). */
export interface StackHolder {
  pid: number;
  info?: StackInfo;
}

export const stackHolder = (stateDir: string): StackHolder | undefined => {
  let pid: number;
  try {
    pid = Number(readFileSync(join(stateDir, LOCK_FILE), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  try {
    const info = JSON.parse(readFileSync(join(stateDir, STACK_FILE), 'utf8')) as StackInfo;
    if (info.pid === pid) return { pid, info };
  } catch {
    // still starting: no stack.json yet
  }
  return { pid };
};

/**
 * Claims a state directory for one `iot-ca up` (docs/adr/0101-one-up-per-state-directory.md). The
 * lock is created exclusively, so of two `up`s started together one wins; a lock whose process
 * is gone is taken over. Returns the live holder when another process has it.
 */
export const claimStateDir = (stateDir: string): StackHolder | undefined => {
  mkdirSync(stateDir, { recursive: true });
  const lock = join(stateDir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = stackHolder(stateDir);
      if (holder) return holder;
      rmSync(lock, { force: true });
    }
  }
  throw new Error(`Cannot claim ${lock}: another process keeps recreating it.`);
};

/** Gives the lock up, if this process holds it. */
export const releaseStateDir = (stateDir: string): void => {
  const lock = join(stateDir, LOCK_FILE);
  try {
    if (Number(readFileSync(lock, 'utf8').trim()) === process.pid) rmSync(lock, { force: true });
  } catch {
    // no lock: nothing to give up
  }
};

/** A schedule rule of serverless.yml: how often, and the input it starts the state machine with. */
export interface ScheduleRule {
  name: string;
  everyMs: number;
  /** The rule's Input with the CA bucket resolved (what `!Sub` does at deploy time). */
  input: unknown;
}

const RATE_UNITS: Record<string, number> = {
  minute: 60_000,
  minutes: 60_000,
  hour: 3_600_000,
  hours: 3_600_000,
  day: 86_400_000,
  days: 86_400_000,
};

/** `rate(1 hour)` → milliseconds; cron() expressions are not run locally. */
export const rateToMs = (expression: string): number | undefined => {
  const match = /^rate\((\d+) (\w+)\)$/.exec(expression.trim());
  const unit = match ? RATE_UNITS[match[2] as string] : undefined;
  return match && unit ? Number(match[1]) * unit : undefined;
};

const scheduleRules = (app: App, bucket: string): ScheduleRule[] =>
  Object.entries(app.resources).flatMap(([name, resource]) => {
    const expression: string | undefined =
      resource.Type === 'AWS::Events::Rule' ? resource.Properties.ScheduleExpression : undefined;
    const everyMs = expression ? rateToMs(app.resolve(expression)) : undefined;
    const input: string | undefined = resource.Properties.Targets?.[0]?.Input;
    return everyMs && input
      ? [{ name, everyMs, input: JSON.parse(app.resolve(input, { CaBucket: bucket })) as unknown }]
      : [];
  });

/** The default JITP template as the deployment creates it (DefaultProvisioningTemplate). */
const defaultTemplateBody = (app: App): string =>
  app.resolve(String(app.resources.DefaultProvisioningTemplate?.Properties.TemplateBody), {
    DevicePolicy: DEVICE_POLICY,
  });

/** The device policy's name in the local stage (`iot-ca-${sls:stage}-device`). */
const DEVICE_POLICY = 'iot-ca-local-device';

export class LocalStack {
  private constructor(
    readonly app: App,
    readonly stateDir: string,
    private iotEmulator: IotEmulator,
    readonly engine: LocalEngine,
    readonly reconcileEngine: LocalEngine,
    /** retire-ca (RetireCaStateMachine). */
    readonly retireEngine: LocalEngine,
    /** The default event bus: its rules, the events put on it and what it delivered. */
    readonly bus: LocalBus,
    readonly endpoints: Endpoints,
    private readonly servers: {
      s3: InstanceType<typeof S3rver>;
      iot: RunningServer;
      sfn: RunningServer;
      mqtt: MqttBroker;
      kms: RunningServer;
      pca: RunningServer;
      events: RunningServer;
    },
    /** IAM as the stack enforces it: `iam.guard.denials` lists every refused call. */
    readonly iam: LocalIam,
    /** The functions' workers and the SDK integrations' workers, stopped with the stack. */
    private readonly workers: { stop(): Promise<unknown> },
    /** The KMS and Private CA emulators (tests read their state; nothing of it is on disk). */
    readonly signers: { kms: KmsService; pca: PcaService },
  ) {}

  /**
   * Whether S3 events reach the rule. Turned off, it simulates what reconciliation exists for:
   * an event EventBridge never delivered, or objects that predate the deployment.
   */
  eventsEnabled = true;

  private timers: NodeJS.Timeout[] = [];

  /** The schedule rules serverless.yml declares, as this stack runs them. */
  schedules(): ScheduleRule[] {
    return scheduleRules(this.app, LOCAL_BUCKET);
  }

  /** Starts each schedule's state machine every period (`everyMs` overrides the rate, for tests). */
  runSchedules(everyMs?: number): void {
    for (const rule of this.schedules()) {
      // As EventBridge does, the target is started with the rule's role, or not at all.
      const start = () =>
        this.iam.startCheck(rule.name, this.reconcileEngine.stateMachineArn) ?? this.reconcileEngine.start(rule.input);
      const timer = setInterval(start, everyMs ?? rule.everyMs);
      timer.unref();
      this.timers.push(timer);
    }
  }

  get emulator(): IotEmulator {
    return this.iotEmulator;
  }

  /**
   * Stops the IoT emulator and starts a new one from its state directory on the same port, as a
   * crash and restart would: whatever it had acknowledged must still be there.
   */
  async restartIot(): Promise<void> {
    const port = Number(new URL(this.endpoints.iot).port);
    const faults = this.iotEmulator.faults;
    const onIotEvent = this.iotEmulator.onIotEvent;
    await this.servers.iot.close();
    // What was acknowledged is on disk; what the old emulator was still writing lands first.
    await this.iotEmulator.flush();
    this.iotEmulator = new IotEmulator({
      stateDir: this.stateDir,
      region: LOCAL_REGION,
      account: LOCAL_ACCOUNT,
      faults,
    });
    // The broker asks the emulator it is given each time: devices now meet the restarted one.
    this.iotEmulator.onIotEvent = onIotEvent;
    this.servers.iot = await startIotServer(this.iotEmulator, port, iotAuthorizer(this.iam.guard, LOCAL_PLACE));
  }

  get bucket(): string {
    return LOCAL_BUCKET;
  }

  get incomingPrefix(): string {
    return this.app.params.incomingPrefix ?? 'incoming/';
  }

  get resultsPrefix(): string {
    return this.app.params.resultsPrefix ?? 'results/';
  }

  static async start(options: StackOptions = {}): Promise<LocalStack> {
    const stateDir = options.stateDir ?? defaultStateDir();
    mkdirSync(join(stateDir, 's3'), { recursive: true });
    // The functions' `!Ref CaBucket` (CA_BUCKET) is the local bucket, as CloudFormation gives the stack's.
    const app = loadApp(PROJECT_ROOT, 'local', options.params, { CaBucket: LOCAL_BUCKET });
    if (!app.stateMachines.RegisterCaStateMachine || !app.stateMachines.ReconcileStateMachine)
      throw new Error('serverless.yml must declare RegisterCaStateMachine and ReconcileStateMachine');

    const emulator = new IotEmulator({
      stateDir,
      region: LOCAL_REGION,
      account: LOCAL_ACCOUNT,
      ...(options.faults ? { faults: options.faults } : {}),
    });
    const iam = localIam(app, LOCAL_BUCKET, options.iam ?? true, options.adjustRoles);
    if (options.onDenial) iam.guard.onDenial = options.onDenial;
    // The bus first: a rule EventBridge would refuse stops the stack before any server starts.
    // Its state machines are the engines below, added to this list once they exist.
    const busEngines: LocalEngine[] = [];
    const bus = new LocalBus(app, {
      stateDir,
      bucket: LOCAL_BUCKET,
      engines: busEngines,
      iam,
      ...(options.onBusEvent ? { onEvent: options.onBusEvent } : {}),
    });
    const iot = await startIotServer(emulator, options.ports?.iot ?? 0, iotAuthorizer(iam.guard, LOCAL_PLACE));
    const s3 = withoutRequestLog(
      new S3rver({
        address: '127.0.0.1',
        port: options.ports?.s3 ?? 0,
        silent: true,
        directory: join(stateDir, 's3'),
        configureBuckets: [{ name: LOCAL_BUCKET }],
        vhostBuckets: false,
      }),
    );
    // Each function signs with its own key; IAM is evaluated before s3rver authenticates and routes.
    for (const fn of Object.keys(app.functions)) {
      const { accessKeyId, secretAccessKey } = iam.identityOf(fn);
      S3RVER_ACCOUNT.createKeyPair(accessKeyId, secretAccessKey);
    }
    // So does each state machine's role, for its AWS SDK integrations (Activate, RecordResult).
    for (const machineId of Object.keys(app.stateMachines)) {
      const { accessKeyId, secretAccessKey } = iam.stateMachineIdentity(machineId);
      S3RVER_ACCOUNT.createKeyPair(accessKeyId, secretAccessKey);
    }
    s3.middleware.unshift(s3Authorizer(iam.guard));
    const { port: s3Port } = await s3.run();
    // The broker reads the emulator through `current`, which the stack points at the new one on a restart.
    let current: () => IotEmulator = () => emulator;
    const mqtt = await MqttBroker.start({
      stateDir,
      emulator: () => current(),
      ...(options.ports?.mqtt !== undefined ? { port: options.ports.mqtt } : {}),
      onEvent: options.onIotEvent ?? logJitpFailures,
    });
    emulator.onIotEvent = mqtt.handleEvent;
    const kmsService = new KmsService(LOCAL_REGION, LOCAL_ACCOUNT);
    const kms = await startKmsServer(
      kmsService,
      options.ports?.kms ?? 0,
      kmsAuthorizer(iam.guard, LOCAL_PLACE, (keyId) => kmsService.keyArnOf(keyId)),
    );
    const pcaService = new PcaService(LOCAL_REGION, LOCAL_ACCOUNT);
    const pca = await startPcaServer(pcaService, options.ports?.pca ?? 0, pcaAuthorizer(iam.guard));
    const events = await startEventsServer(
      LOCAL_PLACE,
      (event) => bus.put(event),
      options.ports?.events ?? 0,
      eventsAuthorizer(iam.guard, LOCAL_PLACE),
    );
    const endpoints = {
      s3: `http://127.0.0.1:${s3Port}`,
      iot: iot.url,
      sfn: '',
      mqtt: mqtt.endpoint,
      kms: kms.url,
      pca: pca.url,
      events: events.url,
    };

    // POWERTOOLS_METRICS_DISABLED: EMF lines are for CloudWatch; locally they would only be noise.
    // What the handlers see, as Lambda would give them: the deployment's environment plus the
    // SDK's standard endpoint variables (no `if (local)` anywhere in functions/).
    Object.assign(process.env, app.environment, {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_S3: endpoints.s3,
      AWS_ENDPOINT_URL_IOT: endpoints.iot,
      AWS_ENDPOINT_URL_KMS: endpoints.kms,
      AWS_ENDPOINT_URL_ACM_PCA: endpoints.pca,
      AWS_ENDPOINT_URL_EVENTBRIDGE: endpoints.events,
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: options.logLevel ?? process.env.IOT_CA_LOG_LEVEL ?? 'WARN',
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;

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
    const engine = engines.RegisterCaStateMachine as LocalEngine;
    const reconcileEngine = engines.ReconcileStateMachine as LocalEngine;
    const retireEngine = engines.RetireCaStateMachine as LocalEngine;
    busEngines.push(...Object.values(engines));
    const sfn = await startSfnServer(Object.values(engines), options.ports?.sfn ?? 0, sfnAuthorizer(iam.guard));
    endpoints.sfn = sfn.url;
    process.env.AWS_ENDPOINT_URL_SFN = endpoints.sfn;

    ensureDefaultTemplate(emulator, app.params.templateName ?? 'iot-ca-local-jitp', defaultTemplateBody(app));
    ensureDevicePolicy(emulator, app);

    const stack = new LocalStack(
      app,
      stateDir,
      emulator,
      engine,
      reconcileEngine,
      retireEngine,
      bus,
      endpoints,
      { s3, iot, sfn, mqtt, kms, pca, events },
      iam,
      {
        stop: () => Promise.all([workers.stop(), ...[...integrationWorkers.values()].map((worker) => worker.stop())]),
      },
      { kms: kmsService, pca: pcaService },
    );
    current = () => stack.emulator;
    // The bucket sends its object events to EventBridge; the rules serverless.yml declares
    // (CaUploadedRule, CaDeletedRule) pick theirs, as EventBridge matches them.
    s3.on('event', (notification) => {
      for (const record of notification.Records) {
        const event = stack.eventsEnabled ? s3ToEventBridge(record) : undefined;
        if (event) bus.put(event);
      }
    });
    if (options.schedules) stack.runSchedules();
    return stack;
  }

  /** Resolves when no execution is running, including flows that reconciliation started meanwhile. */
  async idle(): Promise<void> {
    const engines = [this.reconcileEngine, this.retireEngine, this.engine];
    while (engines.some((engine) => engine.busy)) for (const engine of engines) await engine.idle();
  }

  /** The file the pipeline's events land in (PipelineEventsLogGroup's, as `iot-ca events` reads it). */
  get eventsLogFile(): string {
    return this.app.resources.PipelineEventsLogGroup
      ? this.bus.logFile('PipelineEventsLogGroup')
      : join(this.stateDir, 'logs', logFileName(`/${this.app.service}/${this.app.stage}/events`));
  }

  info(): StackInfo {
    return {
      pid: process.pid,
      endpoints: this.endpoints,
      bucket: this.bucket,
      stateMachineArn: this.engine.stateMachineArn,
      reconcileStateMachineArn: this.reconcileEngine.stateMachineArn,
      retireStateMachineArn: this.retireEngine.stateMachineArn,
      eventsLogFile: resolve(this.eventsLogFile),
      region: LOCAL_REGION,
      incomingPrefix: this.incomingPrefix,
      resultsPrefix: this.resultsPrefix,
    };
  }

  /** Announces this stack to other `iot-ca --local` commands on the same state directory. */
  advertise(): Promise<void> {
    return writeFileAtomic(join(this.stateDir, STACK_FILE), JSON.stringify(this.info(), null, 2));
  }

  stopSchedules(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  async stop(): Promise<void> {
    this.stopSchedules();
    await this.idle();
    const stackFile = join(this.stateDir, STACK_FILE);
    if (existsSync(stackFile)) {
      try {
        if ((JSON.parse(readFileSync(stackFile, 'utf8')) as StackInfo).pid === process.pid)
          rmSync(stackFile, { force: true });
      } catch {
        rmSync(stackFile, { force: true });
      }
    }
    releaseStateDir(this.stateDir);
    this.servers.s3.httpServer?.closeAllConnections();
    await Promise.all([
      this.servers.s3.close(),
      this.servers.iot.close(),
      this.servers.sfn.close(),
      this.servers.mqtt.stop(),
      this.servers.kms.close(),
      this.servers.pca.close(),
      this.servers.events.close(),
      this.workers.stop(),
    ]);
    await this.iotEmulator.flush();
  }
}

const ensureDefaultTemplate = (emulator: IotEmulator, templateName: string, templateBody: string): void => {
  try {
    emulator.describeProvisioningTemplate(templateName);
  } catch (error) {
    if (!(error instanceof IotError) || error.name !== 'ResourceNotFoundException') throw error;
    emulator.createProvisioningTemplate({
      templateName,
      description: 'Just-in-time provisioning for devices of CAs registered by iot-ca-pipeline (local).',
      templateBody,
      enabled: true,
      provisioningRoleArn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/iot-ca-local-provisioning`,
      type: 'JITP',
    });
  }
};

/** Without a listener, a template that fails on a device still shows: on stderr, as AWS logs it. */
const logJitpFailures = (event: IotEvent): void => {
  if (event.type === 'ProvisionThing.ClientErrors') console.warn(`[iot] ${event.type}: ${event.message}`);
};

/** The device policy the deployment creates (DevicePolicy), which the default template names. */
const ensureDevicePolicy = (emulator: IotEmulator, app: App): void => {
  const properties = app.resources.DevicePolicy?.Properties;
  if (!properties) return;
  // `${!name}` is !Sub's escape for a literal `${name}`: an IoT policy variable, kept for IoT to resolve.
  const escaped = JSON.stringify(properties.PolicyDocument).replaceAll('${!', '\u0000{');
  const document = app.resolve(escaped).replaceAll('\u0000{', '${');
  emulator.devices.policies.ensure(DEVICE_POLICY, document);
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
