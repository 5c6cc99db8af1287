/**
 * AWS SDK service integrations (`arn:aws:states:::aws-sdk:<service>:<action>`) as Step Functions
 * runs them: the Task's Parameters (PascalCase, as Step Functions writes every service's members)
 * become one SDK call to the local endpoint, signed with the state machine role's own key so that
 * local IAM judges it; the output comes back PascalCase; a failure is named
 * `<Service>.<ErrorName>Exception` with a Cause as Step Functions words it (docs/adr/0026).
 */
import { IoTClient } from '@aws-sdk/client-iot';
import { S3Client } from '@aws-sdk/client-s3';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';

export interface IntegrationCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

interface Service {
  /** The prefix of its error names in Step Functions (`Iot.ThrottlingException`). */
  errorPrefix: string;
  /** The service id Step Functions' Causes name (`Service: Iot`). */
  serviceId: string;
  /** Members are camelCase in this service's model (IoT's REST-JSON); S3's are PascalCase. */
  camelMembers: boolean;
  client: (credentials: IntegrationCredentials | undefined) => { send(command: unknown): Promise<unknown> };
  commands: () => Promise<Record<string, unknown>>;
}

// One attempt per Task attempt: the state machine's Retry owns backoff, as on AWS.
const clientConfig = (credentials: IntegrationCredentials | undefined) => ({
  maxAttempts: 1,
  ...(credentials ? { credentials } : {}),
});

const eventBridge: Service = {
  errorPrefix: 'EventBridge',
  serviceId: 'EventBridge',
  camelMembers: false,
  client: (credentials) => new EventBridgeClient(clientConfig(credentials)) as never,
  commands: () => import('@aws-sdk/client-eventbridge') as never,
};

const SERVICES: Record<string, Service> = {
  // `arn:aws:states:::events:putEvents` (optimized) and `aws-sdk:eventbridge:*`.
  events: eventBridge,
  eventbridge: eventBridge,
  iot: {
    errorPrefix: 'Iot',
    serviceId: 'Iot',
    camelMembers: true,
    client: (credentials) => new IoTClient(clientConfig(credentials)) as never,
    commands: () => import('@aws-sdk/client-iot') as never,
  },
  s3: {
    errorPrefix: 'S3',
    serviceId: 'S3',
    camelMembers: false,
    // s3rver serves the bucket in the path, as the local stack's clients address it.
    client: (credentials) => new S3Client({ ...clientConfig(credentials), forcePathStyle: true }) as never,
    commands: () => import('@aws-sdk/client-s3') as never,
  },
};

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const recase = (value: unknown, rename: (key: string) => string): unknown => {
  if (Array.isArray(value)) return value.map((item) => recase(item, rename));
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [rename(key), recase(item, rename)]));
};
const camel = (key: string) => `${key.charAt(0).toLowerCase()}${key.slice(1)}`;
const pascal = (key: string) => `${key.charAt(0).toUpperCase()}${key.slice(1)}`;

/** The error a failed integration raises: what the Task's Retry and Catch see. */
export class IntegrationError extends Error {
  constructor(name: string, cause: string) {
    super(cause);
    this.name = name;
  }
}

interface SdkFailure {
  name?: string;
  code?: string;
  message?: string;
  $fault?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string; extendedRequestId?: string };
}

/**
 * A service's answer named as Step Functions names it: `<Service>.<Code>`, with `Exception`
 * added where the service's own name lacks it (S3's `SlowDown` is `S3.SlowDownException`). A
 * call that never got an answer (connection refused or reset) is the SDK's client-side failure,
 * `<Service>.SdkClientException`. The Cause reads as Step Functions writes it:
 * `<message> (Service: <id>, Status Code: <n>, Request ID: <id>[, Extended Request ID: <id>])`.
 */
export const integrationError = (service: string, error: unknown): IntegrationError => {
  const spec = SERVICES[service];
  const prefix = spec?.errorPrefix ?? pascal(service);
  const failure = (error ?? {}) as SdkFailure;
  const status = failure.$metadata?.httpStatusCode;
  if (!status) {
    return new IntegrationError(
      `${prefix}.SdkClientException`,
      `Unable to execute HTTP request: ${failure.message ?? String(error)}`,
    );
  }
  const code = failure.name && failure.name !== 'Error' ? failure.name : `${spec?.serviceId ?? prefix}`;
  const name = code.endsWith('Exception') ? code : `${code}Exception`;
  const extended = failure.$metadata?.extendedRequestId;
  const cause = `${failure.message || code} (Service: ${spec?.serviceId ?? prefix}, Status Code: ${status}, Request ID: ${
    failure.$metadata?.requestId ?? 'local'
  }${extended ? `, Extended Request ID: ${extended}` : ''})`;
  return new IntegrationError(`${prefix}.${name}`, cause);
};

/** A Blob parameter given as JSON (`"Body": {...}`) is sent as its JSON text. */
const blobs = (service: string, action: string, input: Record<string, unknown>): Record<string, unknown> =>
  service === 's3' && action === 'putObject' && input.Body !== undefined && typeof input.Body !== 'string'
    ? { ...input, Body: JSON.stringify(input.Body) }
    : input;

/**
 * The optimized EventBridge integration's request: each entry's Detail, given as JSON, is sent
 * as its text, and the execution's and state machine's ARNs are appended to its Resources, as the
 * Step Functions developer guide ("Add EventBridge events with Step Functions") describes.
 */
export const putEventsRequest = (
  parameters: Record<string, unknown>,
  execution?: { executionArn: string; stateMachineArn: string },
): Record<string, unknown> => {
  const entries = Array.isArray(parameters.Entries) ? parameters.Entries : [];
  return {
    ...parameters,
    Entries: entries.map((entry: Record<string, unknown>) => ({
      ...entry,
      ...(entry.Detail !== undefined && typeof entry.Detail !== 'string'
        ? { Detail: JSON.stringify(entry.Detail) }
        : {}),
      ...(execution
        ? {
            Resources: [
              ...((entry.Resources as string[] | undefined) ?? []),
              execution.executionArn,
              execution.stateMachineArn,
            ],
          }
        : {}),
    })),
  };
};

/** Runs one integration call for the engine; one client per service and credentials, built on first use. */
export class SdkIntegrations {
  private readonly clients = new Map<string, { send(command: unknown): Promise<unknown> }>();
  /**
   * Each service's SDK module, imported once: an `import()` per call, even of a module already
   * loaded, is resolved again through the loader hooks (tsx's, on a thread of their own), which
   * cost each Task ~0.5 ms and two more thread hand-offs.
   */
  private readonly modules = new Map<string, Promise<Record<string, unknown>>>();

  constructor(private readonly credentials?: IntegrationCredentials) {}

  private commandsOf(service: string, spec: Service): Promise<Record<string, unknown>> {
    let commands = this.modules.get(service);
    if (!commands) {
      commands = spec.commands();
      // A failed import is not kept: the next call tries again, as before.
      commands.catch(() => this.modules.delete(service));
      this.modules.set(service, commands);
    }
    return commands;
  }

  static supports(service: string): boolean {
    return service in SERVICES;
  }

  /**
   * `execution` is given for an optimized integration (`events:putEvents`): Step Functions adds
   * what it knows of the execution to the request, and fails the Task on any failed entry.
   */
  async call(
    service: string,
    action: string,
    parameters: unknown,
    execution?: { executionArn: string; stateMachineArn: string },
  ): Promise<unknown> {
    const spec = SERVICES[service];
    if (!spec)
      throw new IntegrationError(
        'States.Runtime',
        `The local engine runs aws-sdk integrations for ${Object.keys(SERVICES).join(', ')} only, not ${service}.`,
      );
    const commands = await this.commandsOf(service, spec);
    const Command = commands[`${pascal(action)}Command`] as (new (input: unknown) => unknown) | undefined;
    if (!Command) throw new IntegrationError('States.Runtime', `${service} has no action ${action}.`);
    const optimized = service === 'events' && action === 'putEvents';
    const plain = isPlainObject(parameters) ? parameters : {};
    const input = optimized ? putEventsRequest(plain, execution) : blobs(service, action, plain);
    let client = this.clients.get(service);
    if (!client) {
      client = spec.client(this.credentials);
      this.clients.set(service, client);
    }
    let output: unknown;
    try {
      output = await client.send(new Command(spec.camelMembers ? recase(input, camel) : input));
    } catch (error) {
      throw integrationError(service, error);
    }
    const { $metadata: _metadata, ...rest } = (output ?? {}) as Record<string, unknown>;
    if (optimized && Number(rest.FailedEntryCount ?? 0) > 0)
      throw new IntegrationError('EventBridge.FailedEntry', JSON.stringify(rest));
    // Step Functions hands back every member PascalCase, whatever the service's model says. A
    // service whose members are PascalCase already (S3) is handed back as it is: recasing would
    // also rename the keys of its maps, which are data (HeadObject's Metadata: `certificateid`).
    const plainOutput = JSON.parse(JSON.stringify(rest));
    return spec.camelMembers ? recase(plainOutput, pascal) : plainOutput;
  }

  destroy(): void {
    for (const client of this.clients.values()) (client as { destroy?: () => void }).destroy?.();
    this.clients.clear();
  }
}
