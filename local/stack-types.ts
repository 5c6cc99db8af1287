/**
 * What the embedded stack (local/stack.ts) is started with, and what it tells other
 * `iot-ca --local` commands about itself.
 */
import type { ExecutionEvent, ExecutionRecord } from './engine.ts';
import type { Denial } from './iam/guard.ts';
import type { Role } from './iam/roles.ts';
import type { FaultSettings, IotEvent } from './iot/emulator.ts';
import type { MqttEndpoint } from './mqtt/broker.ts';
import type { BusEvent } from './events/bus.ts';

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
