/**
 * The local default event bus: the template's `AWS::Events::Rule` resources that have an
 * EventPattern (schedule rules run from stack.ts), read with their intrinsics resolved
 * (template.ts), matched by hand-written patterns (patterns.ts) and delivered to their targets,
 * each known by its ARN as EventBridge knows it:
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
import { resourceRefs } from '../iam/roles.ts';
import { compilePattern } from './patterns.ts';
import { taggedTemplate, templateResolver } from './template.ts';

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
  kind: 'state-machine' | 'log-group' | 'sns' | 'ignored' | 'denied' | 'failed';
  /** The execution started, the file appended to, or why nothing was done. */
  detail: string;
}

export interface BusOptions {
  stateDir: string;
  bucket: string;
  /** The state machines targets may start, by ARN (read at each delivery: the stack adds them after). */
  engines: readonly LocalEngine[];
  iam: LocalIam;
  /** The directory holding serverless.yml (its Conditions are read from there). */
  root?: string;
  onEvent?: (event: BusEvent) => void;
  warn?: (message: string) => void;
}

/** A log group's file under `<stateDir>/logs` (`/iot-ca-pipeline/local/events` → `_iot-ca-pipeline_local_events.jsonl`). */
export const logFileName = (groupName: string): string => `${groupName.replaceAll('/', '_')}.jsonl`;

/** A log group's ARN as a rule's target names it (`!GetAtt X.Arn` ends in `:*`, which is dropped). */
const logGroupArn = (name: string): string => `arn:aws:logs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:log-group:${name}`;

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
  /** The log groups and topics that exist in this stage, by the ARN a target names them with. */
  private readonly destinations = new Map<string, { logicalId: string; type: string }>();

  constructor(
    readonly app: App,
    private readonly options: BusOptions,
  ) {
    this.refs = resourceRefs(app, options.bucket);
    const template = taggedTemplate(options.root ?? app.root ?? PROJECT_ROOT);
    const { resolve, exists } = templateResolver(app, template, this.refs);
    for (const [logicalId, resource] of Object.entries(template.resources)) {
      if (!exists(logicalId)) continue;
      if (resource.Type === 'AWS::Logs::LogGroup')
        this.destinations.set(logGroupArn(this.refs[logicalId] as string), { logicalId, type: resource.Type });
      if (resource.Type === 'AWS::SNS::Topic')
        this.destinations.set(this.refs[logicalId] as string, { logicalId, type: resource.Type });
    }
    this.rules = Object.entries(template.resources).flatMap(([id, resource]) => {
      if (resource.Type !== 'AWS::Events::Rule' || !resource.Properties?.EventPattern || !exists(id)) return [];
      const properties = resolve(resource.Properties) as Record<string, unknown>;
      const busName = String(properties.EventBusName ?? 'default');
      if (busName !== 'default' && !busName.endsWith(':event-bus/default')) return [];
      if (properties.State && properties.State !== 'ENABLED') return [];
      return [
        { id, matches: compilePattern(properties.EventPattern), targets: (properties.Targets ?? []) as RuleTarget[] },
      ];
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
      for (const [index, target] of rule.targets.entries()) {
        try {
          done.push(this.deliver(rule.id, target, index, event));
        } catch (error) {
          // One target failing does not keep the event from the others (FailedInvocations on AWS).
          const message = (error as Error).message ?? String(error);
          this.warnOnce(`${rule.id}/${index}/failed`, `${rule.id}: delivery failed: ${message}`);
          done.push({ rule: rule.id, target: target.Id ?? String(index), kind: 'failed', detail: message });
        }
      }
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
    const arn = String(target.Arn ?? '');
    const delivery = (kind: Delivery['kind'], detail: string): Delivery => ({
      rule: ruleId,
      target: targetId,
      kind,
      detail,
    });
    const ignored = (why: string): Delivery => {
      this.warnOnce(`${ruleId}/${targetId}`, `${ruleId}: ${why}; events for it are dropped locally.`);
      return delivery('ignored', why);
    };
    if (/^arn:aws:states:[^:]*:[^:]*:stateMachine:/.test(arn)) {
      const engine = this.options.engines.find((candidate) => candidate.stateMachineArn === arn);
      if (!engine) return ignored(`state machine ${arn} does not run on the local stack`);
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
          ? JSON.parse(String(target.Input))
          : target.InputPath
            ? atPath(event, target.InputPath)
            : event;
      return delivery('state-machine', engine.start(input).record.executionArn);
    }
    const destination = this.destinations.get(arn.replace(/:\*$/, ''));
    if (destination?.type === 'AWS::Logs::LogGroup') {
      const file = this.logFile(destination.logicalId);
      mkdirSync(join(this.options.stateDir, 'logs'), { recursive: true });
      appendFileSync(file, `${JSON.stringify(event)}\n`);
      return delivery('log-group', file);
    }
    if (destination?.type === 'AWS::SNS::Topic') {
      const file = this.snsFile(destination.logicalId);
      mkdirSync(join(this.options.stateDir, 'sns'), { recursive: true });
      // An SNS target without an InputTransformer gets the event's JSON as its message; EventBridge
      // sets no subject, so the email reads SNS's default one.
      const message = { topic: arn, subject: 'AWS Notification Message', message: JSON.stringify(event) };
      appendFileSync(file, `${JSON.stringify(message)}\n`);
      return delivery('sns', file);
    }
    return ignored(
      /^arn:aws:(logs|sns):/.test(arn)
        ? `${arn} is not a log group or topic of this stage`
        : `unsupported target ${arn || JSON.stringify(target)}`,
    );
  }
}
