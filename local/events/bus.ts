/**
 * The local default event bus: the template's `AWS::Events::Rule` resources that have an
 * EventPattern (schedule rules run from stack.ts), matched by hand-written patterns (patterns.ts)
 * and delivered to their targets as EventBridge would:
 * - a state machine is started on its LocalEngine, if the target's role may start it;
 * - a CloudWatch Logs log group gets the event envelope as one JSON line in
 *   `<stateDir>/logs/<group name, / → _>.jsonl` (what FilterLogEvents would return on AWS);
 * - an SNS topic that exists in this stage (its Condition holds) gets `{topic, subject, message}`
 *   in `<stateDir>/sns/<logical id>.jsonl`, the local stand-in for its email;
 * - anything else is ignored, with one warning per target.
 * Delivery is at most once here (AWS: at least once; retries and DLQs are not emulated).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { type App, LOCAL_ACCOUNT, LOCAL_REGION, PROJECT_ROOT } from '../app.ts';
import type { LocalEngine } from '../engine.ts';
import type { LocalIam } from '../iam/enforce.ts';
import { resolveDeep, resourceRefs } from '../iam/roles.ts';
import { conditionEvaluator, resourceExists, templateConditions } from './conditions.ts';
import { compilePattern } from './patterns.ts';

/** An event as EventBridge hands it to targets and rules match it. */
export interface BusEvent {
  version: string;
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: unknown;
}

interface RuleTarget {
  Id?: string;
  Arn?: string;
  RoleArn?: string;
  Input?: string;
  InputPath?: string;
  InputTransformer?: unknown;
}

/** What a rule delivered an event to (tests and `iot-ca up` read it). */
export interface Delivery {
  rule: string;
  target: string;
  kind: 'state-machine' | 'log-group' | 'sns' | 'ignored' | 'denied';
  /** The execution started, the file appended to, or why nothing was done. */
  detail: string;
}

export interface BusOptions {
  stateDir: string;
  bucket: string;
  /** The state machines targets may start, by ARN. */
  engines: LocalEngine[];
  iam: LocalIam;
  /** The directory holding serverless.yml (its Conditions are read from there). */
  root?: string;
  onEvent?: (event: BusEvent) => void;
  warn?: (message: string) => void;
}

/** A log group's file under `<stateDir>/logs` (`/iot-ca-pipeline/local/events` → `_iot-ca-pipeline_local_events.jsonl`). */
export const logFileName = (groupName: string): string => `${groupName.replaceAll('/', '_')}.jsonl`;

/** `$.detail.x` → that part of the event (InputPath's JSONPath, simple paths only). */
const atPath = (event: unknown, path: string): unknown => {
  if (path === '$') return event;
  return path
    .replace(/^\$\.?/, '')
    .split('.')
    .filter(Boolean)
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], event);
};

interface CompiledRule {
  id: string;
  matches: (event: unknown) => boolean;
  targets: RuleTarget[];
}

export class LocalBus {
  readonly rules: CompiledRule[];
  /** Every event put on the bus, oldest first (the latest 10,000). */
  readonly events: BusEvent[] = [];
  readonly deliveries: Delivery[] = [];
  private readonly refs: Record<string, string>;
  private readonly warned = new Set<string>();
  private readonly exists: (logicalId: string) => boolean;

  constructor(
    readonly app: App,
    private readonly options: BusOptions,
  ) {
    this.refs = resourceRefs(app, options.bucket);
    const holds = conditionEvaluator(app, templateConditions(options.root ?? app.root ?? PROJECT_ROOT));
    this.exists = (logicalId) => resourceExists(app, holds, logicalId);
    this.rules = Object.entries(app.resources).flatMap(([id, resource]) => {
      if (resource.Type !== 'AWS::Events::Rule' || !resource.Properties?.EventPattern || !this.exists(id)) return [];
      const properties = resource.Properties;
      const busName = String(properties.EventBusName ?? 'default');
      if (busName !== 'default' && !busName.endsWith(':event-bus/default')) return [];
      if (properties.State && properties.State !== 'ENABLED') return [];
      const pattern = resolveDeep(properties.EventPattern, this.refs, app);
      return [{ id, matches: compilePattern(pattern), targets: (properties.Targets ?? []) as RuleTarget[] }];
    });
  }

  /** The file a log group's events land in, by its logical id. */
  logFile(logicalId: string): string {
    return join(this.options.stateDir, 'logs', logFileName(this.refs[logicalId] ?? logicalId));
  }

  snsFile(logicalId: string): string {
    return join(this.options.stateDir, 'sns', `${logicalId}.jsonl`);
  }

  /** Fills in what EventBridge adds to an entry (id, time, account, region, version). */
  static envelope(entry: Partial<BusEvent> & Pick<BusEvent, 'source' | 'detail-type' | 'detail'>): BusEvent {
    return {
      version: '0',
      id: entry.id ?? randomUUID(),
      'detail-type': entry['detail-type'],
      source: entry.source,
      account: entry.account ?? LOCAL_ACCOUNT,
      time: entry.time ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: entry.region ?? LOCAL_REGION,
      resources: entry.resources ?? [],
      detail: entry.detail,
    };
  }

  /** Records an event and delivers it to every matching rule's targets; returns what was done. */
  put(event: BusEvent): Delivery[] {
    this.events.push(event);
    if (this.events.length > 10_000) this.events.shift();
    this.options.onEvent?.(event);
    const done: Delivery[] = [];
    for (const rule of this.rules) {
      if (!rule.matches(event)) continue;
      for (const [index, target] of rule.targets.entries()) done.push(this.deliver(rule.id, target, index, event));
    }
    this.deliveries.push(...done);
    if (this.deliveries.length > 10_000) this.deliveries.splice(0, this.deliveries.length - 10_000);
    return done;
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    (this.options.warn ?? ((text: string) => console.warn(`[events] ${text}`)))(message);
  }

  private deliver(ruleId: string, target: RuleTarget, index: number, event: BusEvent): Delivery {
    const targetId = target.Id ?? String(index);
    const logicalId = String(target.Arn ?? '').replace(/\.(Arn|TopicArn)$/, '');
    const type = this.exists(logicalId) ? this.app.resources[logicalId]?.Type : undefined;
    const delivery = (kind: Delivery['kind'], detail: string): Delivery => ({
      rule: ruleId,
      target: targetId,
      kind,
      detail,
    });
    if (type === 'AWS::StepFunctions::StateMachine') {
      const arn = this.refs[logicalId] as string;
      const engine = this.options.engines.find((candidate) => candidate.stateMachineArn === arn);
      if (!engine) {
        this.warnOnce(
          `${ruleId}/${targetId}`,
          `${ruleId}: state machine ${logicalId} does not run on the local stack.`,
        );
        return delivery('ignored', `${logicalId} is not running`);
      }
      // A target the rule's role may not start is not started (FailedInvocations on AWS).
      const denial = this.options.iam.startCheck(ruleId, arn, index);
      if (denial) return delivery('denied', denial.message);
      if (target.InputTransformer)
        this.warnOnce(
          `${ruleId}/${targetId}/it`,
          `${ruleId}: InputTransformer is not emulated; the event is sent whole.`,
        );
      const input =
        target.Input !== undefined
          ? JSON.parse(this.app.resolve(String(target.Input), this.refs))
          : target.InputPath
            ? atPath(event, target.InputPath)
            : event;
      return delivery('state-machine', engine.start(input).record.executionArn);
    }
    if (type === 'AWS::Logs::LogGroup') {
      const file = this.logFile(logicalId);
      mkdirSync(join(this.options.stateDir, 'logs'), { recursive: true });
      appendFileSync(file, `${JSON.stringify(event)}\n`);
      return delivery('log-group', file);
    }
    if (type === 'AWS::SNS::Topic') {
      const file = this.snsFile(logicalId);
      mkdirSync(join(this.options.stateDir, 'sns'), { recursive: true });
      // An SNS target without an InputTransformer gets the event's JSON as its message; EventBridge
      // sets no subject, so the email reads SNS's default one.
      const message = {
        topic: this.refs[logicalId],
        subject: 'AWS Notification Message',
        message: JSON.stringify(event),
      };
      appendFileSync(file, `${JSON.stringify(message)}\n`);
      return delivery('sns', file);
    }
    const why = this.app.resources[logicalId]
      ? `${logicalId} does not exist in this stage`
      : `unsupported target ${target.Arn}`;
    this.warnOnce(`${ruleId}/${targetId}`, `${ruleId}: ${why}; events for it are dropped locally.`);
    return delivery('ignored', why);
  }
}
