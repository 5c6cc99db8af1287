/**
 * The local bus on a synthetic template: rules with an EventPattern deliver to a state machine
 * (whole event, InputPath, Input; only with a role that may start it), to a log group's file and
 * to an SNS topic's outbox when its Condition holds; other targets are ignored with one warning.
 */
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadApp } from '../../local/app.ts';
import { LocalEngine } from '../../local/engine.ts';
import { LocalBus, logFileName } from '../../local/events/bus.ts';
import { s3ToEventBridge } from '../../local/events/s3.ts';
import { localIam } from '../../local/iam/enforce.ts';
import { writeEventsTemplate } from '../fixtures/events-template.ts';

const root = writeEventsTemplate(mkdtempSync(join(tmpdir(), 'iot-ca-bus-template-')));
const dirs: string[] = [root];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const busFor = (params: Record<string, string> = {}) => {
  const app = loadApp(root, 'local', params);
  const stateDir = mkdtempSync(join(tmpdir(), 'iot-ca-bus-'));
  dirs.push(stateDir);
  const engine = new LocalEngine(app.stateMachines.TargetStateMachine as never);
  const warnings: string[] = [];
  const seen: unknown[] = [];
  const bus = new LocalBus(app, {
    stateDir,
    bucket: 'bucket',
    engines: [engine],
    iam: localIam(app, 'bucket', true),
    warn: (message) => warnings.push(message),
    onEvent: (event) => seen.push(event),
  });
  return { app, bus, engine, stateDir, warnings, seen };
};

const event = (detailType: string, detail: unknown, source = 'bus-test') =>
  LocalBus.envelope({ source, 'detail-type': detailType, detail });

const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));

describe('the local bus', () => {
  it('keeps only the rules with an EventPattern (schedules stay with stack.ts)', () => {
    const { bus } = busFor();
    expect(bus.rules.map((rule) => rule.id).sort()).toEqual(['DeniedRule', 'OwnEventsRule', 'StartRule']);
  });

  it('starts the state machine with the event, its InputPath or its Input, if the role may', async () => {
    const { bus, engine } = busFor();
    const start = event('Start', { key: 'in/ca.pem' });
    const deliveries = bus.put(start).filter((delivery) => delivery.rule === 'StartRule');
    expect(deliveries.map((delivery) => [delivery.target, delivery.kind])).toEqual([
      ['whole', 'state-machine'],
      ['detail-only', 'state-machine'],
      ['fixed', 'state-machine'],
    ]);
    await engine.idle();
    expect(engine.list().map((record) => record.input)).toEqual([start, { key: 'in/ca.pem' }, { fixed: true }]);
    expect(engine.list().every((record) => record.status === 'SUCCEEDED')).toBe(true);
    // ${param:prefix} in the pattern was resolved: a key outside it starts nothing.
    expect(bus.put(event('Start', { key: 'out/ca.pem' })).filter((d) => d.rule === 'StartRule')).toEqual([]);
    expect(engine.list()).toHaveLength(3);
  });

  it('does not start a state machine the target role may not start', () => {
    const { bus, engine } = busFor();
    const [denied] = bus.put(event('Denied', {})).filter((delivery) => delivery.rule === 'DeniedRule');
    expect(denied?.kind).toBe('denied');
    expect(denied?.detail).toMatch(/states:StartExecution/);
    expect(engine.list()).toHaveLength(0);
  });

  it('appends each matching event to the log group file, one envelope a line', () => {
    const { bus, stateDir, seen } = busFor();
    const first = event('Something', { n: 1 });
    const second = event('Other', { n: 2 });
    bus.put(first);
    bus.put(second);
    bus.put(event('Ignored', {}, 'someone-else'));
    const file = join(stateDir, 'logs', logFileName('/bus-test/local/events'));
    expect(bus.logFile('EventsLog')).toBe(file);
    expect(lines(file)).toEqual([first, second]);
    expect(Object.keys(first).sort()).toEqual(
      ['account', 'detail', 'detail-type', 'id', 'region', 'resources', 'source', 'time', 'version'].sort(),
    );
    // Every event is recorded and handed to onEvent, matched or not.
    expect(seen).toHaveLength(3);
    expect(bus.events).toHaveLength(3);
  });

  it('writes no SNS outbox without notifyEmail, and warns once for each target it cannot deliver to', () => {
    const { bus, stateDir, warnings } = busFor();
    bus.put(event('A', {}));
    bus.put(event('B', {}));
    expect(existsSync(join(stateDir, 'sns'))).toBe(false);
    expect(warnings).toHaveLength(2);
    expect(warnings.join('\n')).toMatch(
      /arn:aws:sns:us-east-1:000000000000:bus-test-local-Topic is not a log group or topic of this stage/,
    );
    expect(warnings.join('\n')).toMatch(/unsupported target unresolved:Queue\.Arn/);
  });

  it("with notifyEmail, the topic's outbox gets the event as SNS would send it to the email", () => {
    const { bus, stateDir } = busFor({ notifyEmail: 'ops@example.com' });
    const sent = event('CA Retired', { certificateId: 'abc' });
    const deliveries = bus.put(sent);
    expect(deliveries.find((delivery) => delivery.target === 'topic')?.kind).toBe('sns');
    const [message] = lines(join(stateDir, 'sns', 'Topic.jsonl'));
    expect(message.topic).toBe('arn:aws:sns:us-east-1:000000000000:bus-test-local-Topic');
    expect(JSON.parse(message.message)).toEqual(sent);
  });

  it("turns s3rver's delete into S3's Object Deleted for a delete marker, and its put into Object Created", () => {
    const record = (eventName: string) => ({
      eventName,
      eventTime: '2026-12-05T00:00:00.000Z',
      s3: { bucket: { name: 'b' }, object: { key: 'incoming/red flower.pem', size: 3, eTag: 'e', sequencer: '1A' } },
    });
    expect(s3ToEventBridge(record('ObjectRemoved:Delete'))).toMatchObject({
      source: 'aws.s3',
      'detail-type': 'Object Deleted',
      resources: ['arn:aws:s3:::b'],
      detail: {
        bucket: { name: 'b' },
        object: { key: 'incoming/red+flower.pem', sequencer: '1A' },
        reason: 'DeleteObject',
        'deletion-type': 'Delete Marker Created',
      },
    });
    const deleted = s3ToEventBridge(record('ObjectRemoved:Delete')) as { detail: { object: Record<string, unknown> } };
    expect(deleted.detail.object).not.toHaveProperty('size');
    expect(deleted.detail.object).not.toHaveProperty('etag');
    expect(s3ToEventBridge(record('ObjectCreated:Put'))).toMatchObject({
      'detail-type': 'Object Created',
      detail: { object: { key: 'incoming/red+flower.pem', size: 3, etag: 'e' }, reason: 'PutObject' },
    });
    expect(s3ToEventBridge(record('ObjectRestore:Completed'))).toBeUndefined();
  });

  it('finds the optimized events:putEvents Task in a state machine as an integration', () => {
    const { app } = busFor();
    expect(app.stateMachines.EmitStateMachine?.integrations.Emit).toMatchObject({
      service: 'events',
      action: 'putEvents',
      optimized: true,
    });
  });
});
