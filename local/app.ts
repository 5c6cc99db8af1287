/**
 * Reads the deployable app (serverless.yml and the ASL it names) so the local stack runs exactly
 * what would be deployed: each Task's `${XFunctionArn}` substitution leads to the function
 * serverless.yml defines, and from there to its handler module. Adding a step needs no local wiring.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { compileLeaf } from './events/patterns.ts';

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';
export const PROJECT_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

export interface TaskBinding {
  state: string;
  functionKey: string;
  /** The function's ARN, as the Task's Resource names it. */
  functionArn: string;
  /** Absolute path of the handler's module. */
  modulePath: string;
  exportName: string;
  /** The function's timeout and memory as deployed (its own, else the provider's, else the Framework's defaults). */
  timeoutSeconds: number;
  memorySize: number;
}

/** A Task that Step Functions runs itself: `arn:aws:states:::aws-sdk:<service>:<action>`. */
export interface IntegrationBinding {
  state: string;
  /** The SDK's service name as the Resource writes it (`iot`, `s3`). */
  service: string;
  /** The API action, camelCase as the Resource writes it (`updateCACertificate`). */
  action: string;
  resource: string;
  /** An optimized integration (`arn:aws:states:::events:putEvents`) rather than `aws-sdk:`. */
  optimized?: boolean;
}

export interface StateMachineApp {
  name: string;
  definition: { StartAt: string; States: Record<string, { Type: string; Resource?: string; [key: string]: unknown }> };
  bindings: Record<string, TaskBinding>;
  /** The Tasks that are AWS SDK service integrations: no function, the state machine's role calls AWS. */
  integrations: Record<string, IntegrationBinding>;
}

/** `arn:aws:states:::aws-sdk:iot:updateCACertificate` → service and action (the request-response pattern only). */
export const AWS_SDK_RESOURCE = /^arn:aws[a-z-]*:states:::aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)$/;

/** The optimized integrations the local engine runs (request-response only): EventBridge's PutEvents. */
export const OPTIMIZED_RESOURCE = /^arn:aws[a-z-]*:states:::(events):(putEvents)$/;

/** A function as serverless.yml declares it, named as the deployment names it. */
export interface FunctionDeclaration {
  key: string;
  /** `<service>-<stage>-<key>`, the deployed function's name. */
  name: string;
  arn: string;
  /** The logical id of its role in resources.Resources (`role:`), if it names one. */
  role?: string;
  /** Its own `environment:` (resolved), which Lambda adds to the provider's. */
  environment: Record<string, string>;
}

export interface App {
  /** The directory holding serverless.yml. */
  root?: string;
  service: string;
  stage: string;
  functions: Record<string, FunctionDeclaration>;
  /** provider.environment with `${param:…}`, `${sls:stage}` and `${self:service}` resolved for the stage. */
  environment: Record<string, string>;
  params: Record<string, string>;
  stateMachines: Record<string, StateMachineApp>;
  /** resources.Resources as written (CloudFormation tags kept as their plain text). */
  resources: Record<string, CfnResource>;
  /**
   * Resolves `${param:…}`, `${sls:stage}`, `${self:service}` and `${AWS::…}` as packaging and deploy
   * would, and the `!Sub` references to resources named in `refs` (logical id → local value).
   */
  resolve: (text: string, refs?: Record<string, string>) => string;
}

export interface CfnResource {
  Type: string;
  Properties: Record<string, any>;
}

interface ServerlessConfig {
  service: string;
  params?: { default?: Record<string, unknown> };
  provider?: { environment?: Record<string, unknown>; timeout?: number; memorySize?: number };
  functions: Record<
    string,
    { handler: string; role?: string; environment?: unknown; timeout?: number; memorySize?: number }
  >;
  resources?: { Resources?: Record<string, CfnResource> };
}

/** The Framework's logical id for a function: `recordResult` → `RecordResultLambdaFunction`. */
const lambdaLogicalId = (functionKey: string): string =>
  `${functionKey.charAt(0).toUpperCase()}${functionKey.slice(1).replace(/-/g, 'Dash').replace(/_/g, 'Underscore')}LambdaFunction`;

/** What `!Ref X` in an included environment file reads as, until resolved: `${Ref:X}`. */
const REF_SOURCE = 'Ref';
const REF_TAG = {
  tag: '!Ref',
  resolve: (logicalId: string) => `\${${REF_SOURCE}:${logicalId}}`,
};

const resolveVariables = (
  value: string,
  service: string,
  stage: string,
  params: Record<string, string>,
  refs: Record<string, string> = {},
): string =>
  value.replace(/\$\{([^}]+)\}/g, (whole, expression: string) => {
    if (expression in refs) return refs[expression] as string;
    const [source, ...rest] = expression.split(':');
    const address = rest.join(':');
    // `!Ref X` in an included environment file: the local value for X, else (no value given) X's
    // logical id, which is what the plain-text reading of the tag left before.
    if (source === REF_SOURCE) return refs[address] ?? address;
    if (source === 'sls' && address === 'stage') return stage;
    if (source === 'self' && address === 'service') return service;
    if (source === 'param' && address in params) return params[address] as string;
    // What CloudFormation's !Sub fills in at deploy time.
    if (source === 'AWS' && address === ':Partition') return 'aws';
    if (source === 'AWS' && address === ':Region') return LOCAL_REGION;
    if (source === 'AWS' && address === ':AccountId') return LOCAL_ACCOUNT;
    throw new Error(`serverless.yml: the local stack cannot resolve ${whole}`);
  });

type States = StateMachineApp['definition']['States'];

/** Every state, including those inside Map and Parallel states (Task overrides are keyed by name). */
const allStates = (states: States): Array<[string, States[string]]> =>
  Object.entries(states).flatMap(([name, body]) => {
    const nested = [
      ...((body.ItemProcessor ?? body.Iterator) ? [(body.ItemProcessor ?? body.Iterator) as { States: States }] : []),
      ...((body.Branches as Array<{ States: States }> | undefined) ?? []),
    ];
    return [[name, body] as [string, States[string]], ...nested.flatMap((machine) => allStates(machine.States))];
  });

/**
 * `params` overrides serverless.yml's `params.default`, as `params.<stage>` or `--param` would at
 * deploy time (tests use it to shorten a period, never to change what a function does).
 */
export const loadApp = (
  root = PROJECT_ROOT,
  stage = 'local',
  overrides: Record<string, string> = {},
  /** Local values for the resources function environments `!Ref` (logical id → value), e.g. CaBucket. */
  refs: Record<string, string> = {},
): App => {
  // CloudFormation tags (!GetAtt X.Arn, !Ref X) are not YAML types: kept as their plain text.
  const config = parse(readFileSync(join(root, 'serverless.yml'), 'utf8'), { logLevel: 'silent' }) as ServerlessConfig;
  const rawParams = config.params?.default ?? {};
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...rawParams, ...overrides })) params[key] = String(value);
  for (const [key, value] of Object.entries(params))
    params[key] = resolveVariables(value, config.service, stage, params);
  // Lambda gives each function the provider's environment plus its own; one process hosts them
  // all locally, so the union is what every handler sees (names do not collide by design).
  const fileRef = (value: unknown): unknown => {
    const file = /^\$\{file\((.+)\)\}$/.exec(String(value ?? ''))?.[1];
    return file ? parse(readFileSync(join(root, file), 'utf8'), { logLevel: 'silent', customTags: [REF_TAG] }) : value;
  };
  const environment: Record<string, string> = {};
  for (const source of [
    config.provider?.environment,
    ...Object.values(config.functions).map((fn) => fileRef(fn.environment)),
  ]) {
    for (const [key, value] of Object.entries((source ?? {}) as Record<string, unknown>)) {
      environment[key] = resolveVariables(String(value ?? ''), config.service, stage, params, refs);
    }
  }

  const functionArn = (key: string) =>
    `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${config.service}-${stage}-${key}`;
  const functions: Record<string, FunctionDeclaration> = {};
  for (const [key, fn] of Object.entries(config.functions)) {
    const own: Record<string, string> = {};
    for (const [name, value] of Object.entries((fileRef(fn.environment) ?? {}) as Record<string, unknown>))
      own[name] = resolveVariables(String(value ?? ''), config.service, stage, params, refs);
    functions[key] = {
      key,
      name: `${config.service}-${stage}-${key}`,
      arn: functionArn(key),
      ...(fn.role ? { role: fn.role } : {}),
      environment: own,
    };
  }

  const functionsByLogicalId = new Map(
    Object.entries(config.functions).map(([key, fn]) => [lambdaLogicalId(key), { key, ...fn }]),
  );
  const stateMachines: Record<string, StateMachineApp> = {};
  for (const [logicalId, resource] of Object.entries(config.resources?.Resources ?? {})) {
    if (resource.Type !== 'AWS::StepFunctions::StateMachine') continue;
    const properties = resource.Properties ?? {};
    const definitionRef = /^\$\{file\((.+)\)\}$/.exec(String(properties.Definition ?? ''));
    if (!definitionRef) throw new Error(`serverless.yml: ${logicalId}.Definition must be \${file(<asl.json>)}`);
    const substitutions = (properties.DefinitionSubstitutions ?? {}) as Record<string, string>;
    const bindings: Record<string, TaskBinding> = {};
    const integrations: Record<string, IntegrationBinding> = {};
    const functionFor = (variable: string) =>
      functionsByLogicalId.get((substitutions[variable] ?? '').replace(/\.Arn$/, ''));
    // What CloudFormation does at deploy: each ${XFunctionArn} becomes that function's ARN.
    const text = readFileSync(join(root, definitionRef[1] as string), 'utf8').replace(
      /\$\{(\w+)\}/g,
      (whole, variable: string) => {
        const fn = functionFor(variable);
        if (fn) return functionArn(fn.key);
        // A plain value (`ResultsPrefix: ${param:resultsPrefix}`), resolved as packaging does.
        // `!Ref AWS::Partition` arrives as the text "AWS::Partition".
        const value = substitutions[variable];
        if (typeof value !== 'string' || value.endsWith('.Arn')) return whole;
        return resolveVariables(/^AWS::\w+$/.test(value) ? `\${${value}}` : value, config.service, stage, params);
      },
    );
    const definition = JSON.parse(text) as StateMachineApp['definition'];
    for (const [state, body] of allStates(definition.States)) {
      if (body.Type !== 'Task') continue;
      const sdk = AWS_SDK_RESOURCE.exec(body.Resource ?? '');
      const optimized = OPTIMIZED_RESOURCE.exec(body.Resource ?? '');
      if (sdk || optimized) {
        integrations[state] = {
          state,
          service: (sdk ?? optimized)?.[1] as string,
          action: (sdk ?? optimized)?.[2] as string,
          resource: body.Resource as string,
          ...(optimized ? { optimized: true } : {}),
        };
        continue;
      }
      const fnKey = /:function:[^:]+$/.test(body.Resource ?? '')
        ? (body.Resource as string).split(`-${stage}-`).at(-1)
        : undefined;
      const fn = fnKey ? config.functions[fnKey] : undefined;
      if (!fn || !fnKey)
        throw new Error(`serverless.yml: Task ${state} (${body.Resource}) does not lead to a function`);
      const dot = fn.handler.lastIndexOf('.');
      bindings[state] = {
        state,
        functionKey: fnKey,
        functionArn: body.Resource as string,
        modulePath: join(root, `${fn.handler.slice(0, dot)}.ts`),
        exportName: fn.handler.slice(dot + 1),
        // The Serverless Framework's defaults: 6 s and 1024 MB.
        timeoutSeconds: fn.timeout ?? config.provider?.timeout ?? 6,
        memorySize: fn.memorySize ?? config.provider?.memorySize ?? 1024,
      };
    }
    const name = String(properties.StateMachineName ?? logicalId);
    stateMachines[logicalId] = {
      name: resolveVariables(name, config.service, stage, params),
      definition,
      bindings,
      integrations,
    };
  }
  return {
    root,
    service: config.service,
    stage,
    functions,
    environment,
    params,
    stateMachines,
    resources: config.resources?.Resources ?? {},
    resolve: (text: string, refs?: Record<string, string>) =>
      resolveVariables(text, config.service, stage, params, refs),
  };
};

/** One filter of an EventBridge rule's `detail.object.key` list, as content filtering matches it. */
export type KeyFilter = string | { wildcard?: string; prefix?: string; suffix?: string };

export interface KeyMatcher {
  /** The filters as people read them (`incoming/*.pem`). */
  patterns: string[];
  matches: (key: string) => boolean;
}

/**
 * An EventBridge key filter list as EventBridge applies it (local/events/patterns.ts); `fill`
 * resolves its variables first. Kept for the CLI's explanation of which keys start a flow.
 */
export const keyMatcher = (filters: KeyFilter[], fill: (text: string) => string): KeyMatcher => {
  const filled = filters.map((filter) =>
    typeof filter === 'string'
      ? fill(filter)
      : Object.fromEntries(Object.entries(filter).map(([operator, operand]) => [operator, fill(String(operand))])),
  );
  const leaf = compileLeaf(filled);
  return {
    patterns: filled.map((filter) =>
      typeof filter === 'string'
        ? filter
        : filter.wildcard !== undefined
          ? String(filter.wildcard)
          : filter.prefix !== undefined
            ? `${filter.prefix}*`
            : `*${filter.suffix ?? ''}`,
    ),
    matches: (key) => leaf(true, key),
  };
};

/** The key filters of the rule that starts register-ca: the Events rule on Object Created with an object-key pattern. */
export const uploadKeyFilters = (app: App): KeyFilter[] =>
  Object.values(app.resources).find(
    (resource) =>
      resource.Type === 'AWS::Events::Rule' &&
      resource.Properties.EventPattern?.detail?.object?.key &&
      // Not CaDeletedRule, which filters the same keys for Object Deleted.
      [resource.Properties.EventPattern['detail-type']].flat().includes('Object Created'),
  )?.Properties.EventPattern.detail.object.key ?? [];
