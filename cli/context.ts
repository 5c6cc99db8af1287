/**
 * Where a command acts: the deployed stack (standard credential chain, outputs of the
 * CloudFormation stack `iot-ca-pipeline-<stage>`), or the local stack — a running `iot-ca up` on
 * the same state directory if there is one, otherwise one started in this process.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeEndpointCommand, IoTClient } from '@aws-sdk/client-iot';
import type { DeviceEndpoint } from './device.ts';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { CliError } from './output.ts';
import { deploymentDefaults, triggerRule, type Defaults, type TriggerRule } from './rule.ts';

export interface GlobalOptions {
  json?: boolean;
  local?: boolean;
  stage?: string;
  region?: string;
}

export interface Target {
  kind: 'deployed' | 'local-attached' | 'local-in-process';
  s3: S3Client;
  iot: IoTClient;
  sfn: SFNClient;
  bucket: string;
  stateMachineArn: string;
  reconcileStateMachineArn: string;
  /**
   * retire-ca (stack.json `retireStateMachineArn`, Output `RetireCaStateMachineArn`); undefined on
   * a stack deployed before it existed: `requireRetire` says to redeploy.
   */
  retireStateMachineArn: string | undefined;
  /** Where the pipeline's own events are kept, for `iot-ca events`. */
  events: EventsSource;
  incomingPrefix: string;
  resultsPrefix: string;
  /** The keys serverless.yml's EventBridge rule starts register-ca for, under this target's prefix. */
  rule: TriggerRule;
  /** The options an object gets when its metadata says nothing. */
  defaults: Defaults;
  /** Where devices connect: the local broker, or the account's `iot:Data-ATS` endpoint. */
  deviceEndpoint: () => Promise<DeviceEndpoint>;
  /**
   * How an SDK client reaches the local stack's KMS or Private CA emulator (`endpoints.kms`,
   * `endpoints.pca`); undefined when this stack has none. Local targets only: on AWS, clients take
   * the account's endpoints.
   */
  serviceConfig?: (service: 'kms' | 'pca') => LocalServiceConfig | undefined;
  /** Waits for in-process executions, then stops what this command started. */
  close: () => Promise<void>;
}

/**
 * The pipeline's events as they are kept: locally a JSON-lines file of event envelopes (the
 * stack's `eventsLogFile`), on AWS the CloudWatch Logs group the events rule feeds (Output
 * `EventsLogGroupName`; undefined on a stack deployed before it existed).
 */
export type EventsSource =
  | { kind: 'file'; path: string }
  | { kind: 'log-group'; logGroupName: string | undefined; region: string | undefined };

/** retire-ca's ARN, or a named error saying the deployed stack predates it. */
export const requireRetire = (target: Target): string => {
  if (target.retireStateMachineArn) return target.retireStateMachineArn;
  throw new CliError(
    'StackNotFoundError',
    'This stack has no retire-ca state machine (Output RetireCaStateMachineArn): redeploy it (npx serverless deploy), or restart iot-ca up.',
  );
};

export interface LocalServiceConfig {
  region: string;
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

/** The local stack's endpoint for a service beside the flow's own (KMS, Private CA), if it runs one. */
const localServiceConfig =
  (endpoints: object, region: string) =>
  (service: 'kms' | 'pca'): LocalServiceConfig | undefined => {
    const endpoint = (endpoints as Partial<Record<'kms' | 'pca', string>>)[service];
    return endpoint ? { region, endpoint, credentials: { ...LOCAL_CREDENTIALS } } : undefined;
  };

/** The local broker as the stack advertises it (`endpoints.mqtt`). */
const localDeviceEndpoint = (endpoints: object) => async (): Promise<DeviceEndpoint> => {
  const mqtt = (endpoints as { mqtt?: { url: string; servername: string; caFile: string } }).mqtt;
  if (!mqtt) throw new CliError('NoDeviceEndpointError', 'This local stack has no MQTT endpoint: restart iot-ca up.');
  return { url: mqtt.url, servername: mqtt.servername, ca: readFileSync(mqtt.caFile, 'utf8') };
};

/** The account's ATS data endpoint (DescribeEndpoint `iot:Data-ATS`), on MQTT's TLS port 8883. */
export const awsDeviceEndpoint = (iot: IoTClient) => async (): Promise<DeviceEndpoint> => {
  const { endpointAddress } = await iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }));
  if (!endpointAddress) throw new CliError('NoDeviceEndpointError', 'DescribeEndpoint returned no address.');
  return { url: `mqtts://${endpointAddress}:8883`, servername: endpointAddress };
};

const reachable = async (url: string): Promise<boolean> => {
  try {
    await fetch(url, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
};

/** How long a command waits for a busy `iot-ca up` that holds the state directory to answer. */
const UP_ANSWER_TIMEOUT_MS = 20_000;

/** Retries until the running `up` answers; a named error when it never does. */
const answersWithin = async (url: string, stateDir: string): Promise<true> => {
  const deadline = Date.now() + UP_ANSWER_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (await reachable(url)) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new CliError(
    'LocalStackNotAnsweringError',
    `The iot-ca up running on ${stateDir} does not answer at ${url} within ${UP_ANSWER_TIMEOUT_MS / 1000}s: try again, or restart it (iot-ca down, then iot-ca up).`,
  );
};

/**
 * The CLI's reads share the account's IoT quota (10 TPS per operation) with the flows it starts: a
 * drop of hundreds of CAs reads each one, so a throttled read waits and retries (adaptive: the
 * client slows to what the quota admits) instead of failing the whole command.
 */
const IOT_RETRY = { retryMode: 'adaptive', maxAttempts: 10 } as const;

/** What the CLI signs local calls with: the operator, allowed everything (local/iam/guard.ts). */
const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

const localClients = (endpoints: { s3: string; iot: string; sfn: string }, region: string) => {
  const common = { region, credentials: { ...LOCAL_CREDENTIALS }, maxAttempts: 3 };
  return {
    s3: new S3Client({
      ...common,
      endpoint: endpoints.s3,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    }),
    iot: new IoTClient({ ...common, ...IOT_RETRY, endpoint: endpoints.iot }),
    sfn: new SFNClient({ ...common, endpoint: endpoints.sfn }),
  };
};

const destroyAll = (clients: { s3: S3Client; iot: IoTClient; sfn: SFNClient }) => {
  clients.s3.destroy();
  clients.iot.destroy();
  clients.sfn.destroy();
};

export interface LocalTargetOptions {
  stateDir?: string;
  onProgress?: (message: string) => void;
  /** Told when this command creates a state directory (a new registration code, no CAs). */
  onNotice?: (message: string) => void;
  /**
   * Only a running `iot-ca up`, never a stack started in-process: for what must outlive this
   * command (a key the local KMS holds for the drop that follows).
   */
  attachOnly?: string;
}

/**
 * What the local stack advertises for the CA lifecycle (stack.json): read as optional, so that a
 * stack.json written by an older `iot-ca up` still attaches.
 */
interface LifecycleInfo {
  retireStateMachineArn?: string;
  eventsLogFile?: string;
}

/**
 * The local stack's events file: the one stack.json names while `iot-ca up` runs, else the
 * events log group's file in the state directory (`logs/<group name, / as _>.jsonl`, ending in
 * `_events.jsonl`). No stack is started for it: the file outlives `iot-ca up`, as a log group
 * outlives a deployment.
 */
export const localEventsLogFile = async (stateDir?: string): Promise<string> => {
  const { defaultStateDir, STACK_FILE } = await import('../local/stack.ts');
  const dir = stateDir ?? defaultStateDir();
  try {
    const info = JSON.parse(readFileSync(join(dir, STACK_FILE), 'utf8')) as LifecycleInfo;
    if (info.eventsLogFile) return info.eventsLogFile;
  } catch {
    // no stack.json: no `up` runs here now
  }
  const logs = join(dir, 'logs');
  const found = existsSync(logs)
    ? readdirSync(logs)
        .filter((name) => name.endsWith(EVENTS_LOG_SUFFIX))
        .sort()
    : [];
  return join(logs, found[0] ?? `_iot-ca-pipeline${EVENTS_LOG_SUFFIX}`);
};

/** How the events log group's file ends (group `/iot-ca-pipeline/<stage>/events`). */
const EVENTS_LOG_SUFFIX = '_events.jsonl';

/** The events file a stack that does not name one would have (an older `iot-ca up`). */
const eventsFileOf = (info: LifecycleInfo, stateDir: string): string =>
  info.eventsLogFile ?? join(stateDir, 'logs', `_iot-ca-pipeline${EVENTS_LOG_SUFFIX}`);

export const localTarget = async (options: LocalTargetOptions = {}): Promise<Target> => {
  const { defaultStateDir, isAlive, LocalStack, STACK_FILE, stackHolder } = await import('../local/stack.ts');
  const stateDir = options.stateDir ?? defaultStateDir();
  const stackFile = join(stateDir, STACK_FILE);
  if (existsSync(stackFile)) {
    const info = JSON.parse(readFileSync(stackFile, 'utf8')) as import('../local/stack.ts').StackInfo;
    // The `up` holding the state directory's lock is waited for: busy, it may take more than a
    // second to answer, and a stack started here instead would be a second one on the same state.
    const holdsLock = stackHolder(stateDir)?.pid === info.pid;
    if (
      info.pid !== process.pid &&
      isAlive(info.pid) &&
      ((await reachable(info.endpoints.iot)) || (holdsLock && (await answersWithin(info.endpoints.iot, stateDir))))
    ) {
      const clients = localClients(info.endpoints, info.region);
      return {
        kind: 'local-attached',
        ...clients,
        bucket: info.bucket,
        stateMachineArn: info.stateMachineArn,
        reconcileStateMachineArn: info.reconcileStateMachineArn,
        retireStateMachineArn: (info as LifecycleInfo).retireStateMachineArn,
        events: { kind: 'file', path: eventsFileOf(info as LifecycleInfo, stateDir) },
        incomingPrefix: info.incomingPrefix,
        resultsPrefix: info.resultsPrefix,
        rule: triggerRule(info.incomingPrefix),
        defaults: deploymentDefaults(),
        deviceEndpoint: localDeviceEndpoint(info.endpoints),
        serviceConfig: localServiceConfig(info.endpoints, info.region),
        close: async () => destroyAll(clients),
      };
    }
  }
  if (options.attachOnly) {
    throw new CliError(
      'NoLocalStackError',
      `No iot-ca up is running on ${stateDir}: ${options.attachOnly} Start it in another terminal (iot-ca up), or set IOT_CA_HOME to the state directory of the one running.`,
    );
  }
  if (!existsSync(stateDir)) {
    // Run from another folder, a command would otherwise silently start over with a new account.
    options.onNotice?.(
      `created a new local state directory ${stateDir} (a new registration code, no CAs); set IOT_CA_HOME to use an existing one`,
    );
  }
  options.onProgress?.(`starting the local stack in ${stateDir}`);
  const stack = await LocalStack.start({ stateDir });
  const clients = localClients(stack.endpoints, stack.info().region);
  return {
    kind: 'local-in-process',
    ...clients,
    bucket: stack.bucket,
    stateMachineArn: stack.engine.stateMachineArn,
    reconcileStateMachineArn: stack.reconcileEngine.stateMachineArn,
    retireStateMachineArn: (stack.info() as LifecycleInfo).retireStateMachineArn,
    events: { kind: 'file', path: eventsFileOf(stack.info() as LifecycleInfo, stateDir) },
    incomingPrefix: stack.incomingPrefix,
    resultsPrefix: stack.resultsPrefix,
    rule: triggerRule(stack.incomingPrefix),
    defaults: deploymentDefaults(),
    deviceEndpoint: localDeviceEndpoint(stack.endpoints),
    serviceConfig: localServiceConfig(stack.endpoints, stack.info().region),
    close: async () => {
      destroyAll(clients);
      await stack.stop();
    },
  };
};

export const deployedTarget = async (options: GlobalOptions): Promise<Target> => {
  const stage = options.stage ?? 'dev';
  const region = options.region;
  const config = region ? { region } : {};
  const stackName = `iot-ca-pipeline-${stage}`;
  const cloudFormation = new CloudFormationClient(config);
  let outputs: Record<string, string>;
  try {
    const response = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = Object.fromEntries(
      (response.Stacks?.[0]?.Outputs ?? []).map((output) => [output.OutputKey ?? '', output.OutputValue ?? '']),
    );
  } catch (error) {
    const name = (error as Error).name;
    if (/Region is missing/i.test((error as Error).message)) {
      throw new CliError(
        'NoRegionError',
        'No AWS Region: pass --region or set AWS_REGION (or use --local for the embedded stack).',
      );
    }
    if (name === 'CredentialsProviderError' || /credential/i.test((error as Error).message)) {
      throw new CliError(
        'NoCredentialsError',
        'No AWS credentials found; configure them, or use --local for the embedded stack.',
      );
    }
    throw new CliError(
      'StackNotFoundError',
      `Cannot read stack ${stackName}: ${(error as Error).message} (deploy with npx serverless deploy --stage ${stage}, or use --local).`,
    );
  } finally {
    cloudFormation.destroy();
  }
  const need = (key: string) => {
    const value = outputs[key];
    if (!value) throw new CliError('StackNotFoundError', `Stack ${stackName} has no output ${key}; redeploy it.`);
    return value;
  };
  const clients = {
    s3: new S3Client(config),
    iot: new IoTClient({ ...config, ...IOT_RETRY }),
    sfn: new SFNClient(config),
  };
  const incomingPrefix = outputs.IncomingPrefix ?? 'incoming/';
  const defaults = deploymentDefaults(stage);
  return {
    kind: 'deployed',
    ...clients,
    bucket: need('CaBucketName'),
    stateMachineArn: need('RegisterCaStateMachineArn'),
    reconcileStateMachineArn: need('ReconcileStateMachineArn'),
    retireStateMachineArn: outputs.RetireCaStateMachineArn || undefined,
    events: { kind: 'log-group', logGroupName: outputs.EventsLogGroupName || undefined, region },
    incomingPrefix,
    resultsPrefix: outputs.ResultsPrefix ?? 'results/',
    rule: triggerRule(incomingPrefix),
    // params.<stage> may override params.default; the stack's own output names its template.
    defaults: { ...defaults, templateName: outputs.DefaultTemplateName ?? defaults.templateName },
    deviceEndpoint: awsDeviceEndpoint(clients.iot),
    close: async () => destroyAll(clients),
  };
};

export const resolveTarget = (
  options: GlobalOptions,
  tell: Pick<LocalTargetOptions, 'onProgress' | 'onNotice'> = {},
): Promise<Target> => (options.local ? localTarget(tell) : deployedTarget(options));
