/**
 * The embedded stack: s3rver, the IoT, KMS and Private CA emulators and the local Step Functions
 * engine in one process, wired as the deployment wires AWS. S3 object events become EventBridge
 * `Object Created` and `Object Deleted` events on the local bus (local/events/), which delivers
 * them, and the pipeline's own events, by the rules serverless.yml declares; the handlers find
 * the servers only through the SDK's standard AWS_ENDPOINT_URL_* variables.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LOCAL_ACCOUNT, LOCAL_REGION, loadApp, PROJECT_ROOT, type App } from './app.ts';
import type { LocalEngine } from './engine.ts';
import { IotEmulator } from './iot/emulator.ts';
import { MqttBroker } from './mqtt/broker.ts';
import { startIotServer, type RunningServer } from './iot/server.ts';
import { startSfnServer } from './sfn/server.ts';
import {
  eventsAuthorizer,
  iotAuthorizer,
  kmsAuthorizer,
  type LocalIam,
  localIam,
  pcaAuthorizer,
  sfnAuthorizer,
} from './iam/enforce.ts';
import { KmsService } from './kms/service.ts';
import { startKmsServer } from './kms/server.ts';
import { PcaService } from './pca/service.ts';
import { startPcaServer } from './pca/server.ts';
import { writeFileAtomic } from './iot/store.ts';
import { LocalBus, logFileName } from './events/bus.ts';
import { startEventsServer } from './events/server.ts';
import { type S3Server, sendObjectEvents, startS3Server } from './s3-server.ts';
import { createEngines } from './engines.ts';
import { setHandlerEnvironment } from './handler-env.ts';
import { defaultTemplateBody, ensureDefaultTemplate, ensureDevicePolicy, logJitpFailures } from './iot-setup.ts';
import { type ScheduleRule, scheduleRules } from './schedules.ts';
import { defaultStateDir, releaseStateDir, STACK_FILE, withdrawStackFile } from './state-dir.ts';
import type { Endpoints, StackInfo, StackOptions } from './stack-types.ts';

export { eventKey } from './events/s3.ts';
export type { Endpoints, StackInfo, StackOptions } from './stack-types.ts';
export { rateToMs, type ScheduleRule } from './schedules.ts';
export {
  claimStateDir,
  defaultStateDir,
  isAlive,
  LOCK_FILE,
  releaseStateDir,
  STACK_FILE,
  type StackHolder,
  stackHolder,
} from './state-dir.ts';

const LOCAL_PLACE = { region: LOCAL_REGION, account: LOCAL_ACCOUNT };

/** The local stack's bucket, in the place of the stack's generated CA bucket. */
export const LOCAL_BUCKET = 'iot-ca-local';

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
      s3: S3Server;
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
    const { s3, port: s3Port } = await startS3Server(app, iam, stateDir, LOCAL_BUCKET, options.ports?.s3 ?? 0);
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

    setHandlerEnvironment(app, endpoints, options.logLevel);

    const { engines, workers } = createEngines(app, iam, options);
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
      workers,
      { kms: kmsService, pca: pcaService },
    );
    current = () => stack.emulator;
    sendObjectEvents(s3, bus, () => stack.eventsEnabled);
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
    withdrawStackFile(this.stateDir);
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
