/**
 * `iot-ca events`: its arguments, the events file as the local stack writes it (JSON lines of
 * envelopes), the CloudWatch Logs reader it uses on AWS, and the command itself on a state
 * directory with no running stack, `--follow` included.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import {
  EventsFile,
  events,
  eventFilter,
  fetchLogEvents,
  matches,
  parseDetailType,
  parseEnvelope,
  parseSince,
} from '../../cli/commands/events.ts';
import { CliError, type Output } from '../../cli/output.ts';
import { type EventEnvelope, eventLine } from '../../cli/render.ts';
import { BIN, runCli, usageError } from '../fixtures/cli.ts';

const ID = 'a'.repeat(64);
const NEW_ID = 'b'.repeat(64);

let serial = 0;
const envelope = (type: string, detail: Record<string, unknown>, time = '2026-12-05T04:00:00Z'): EventEnvelope => ({
  version: '0',
  id: `event-${serial++}`,
  'detail-type': type,
  source: 'iot-ca-pipeline',
  account: '000000000000',
  time,
  region: 'us-east-1',
  resources: [],
  detail,
});

describe('events arguments', () => {
  const now = Date.parse('2026-12-05T04:00:00Z');

  it('takes --since as a duration back from now or an ISO time', () => {
    expect(parseSince('30s', now)).toBe(now - 30_000);
    expect(parseSince('15m', now)).toBe(now - 900_000);
    expect(parseSince('2h', now)).toBe(now - 7_200_000);
    expect(parseSince('7d', now)).toBe(now - 7 * 86_400_000);
    expect(parseSince('2026-12-01T00:00:00Z', now)).toBe(Date.parse('2026-12-01T00:00:00Z'));
    expect(parseSince('2026-12-01', now)).toBe(Date.parse('2026-12-01'));
  });

  it('refuses a --since that is neither, naming both forms', () => {
    for (const bad of ['yesterday', '5', '10 years', '']) {
      expect(usageError(() => parseSince(bad, now)).message).toMatch(/30s, 15m, 2h, 7d.*ISO 8601/);
    }
  });

  it("takes --type as one of the catalogue's detail-types, in any case", () => {
    expect(parseDetailType('ca retired')).toBe('CA Retired');
    expect(parseDetailType('CA Registration Failed')).toBe('CA Registration Failed');
    expect(usageError(() => parseDetailType('CA Deleted')).message).toContain('"CA Retired"');
  });

  it('filters by detail-type and time', () => {
    const filter = eventFilter({ type: 'CA Retired', since: '1h' }, Date.parse('2026-12-05T04:30:00Z'));
    expect(matches(envelope('CA Retired', {}, '2026-12-05T04:00:00Z'), filter)).toBe(true);
    expect(matches(envelope('CA Retired', {}, '2026-12-05T03:00:00Z'), filter)).toBe(false);
    expect(matches(envelope('CA Registered', {}, '2026-12-05T04:00:00Z'), filter)).toBe(false);
  });
});

describe('the events file', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'iot-ca-events-file-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads complete lines once, leaves a line being written for the next read, skips other sources', () => {
    const path = join(dir, 'events.jsonl');
    const file = new EventsFile(path);
    expect(file.read()).toEqual([]);
    const first = envelope('CA Registered', { certificateId: ID });
    const other = { ...envelope('Object Created', {}), source: 'aws.s3' };
    const second = envelope('CA Retired', { certificateId: ID });
    const secondText = JSON.stringify(second);
    writeFileSync(path, `${JSON.stringify(first)}\n${JSON.stringify(other)}\nnot json\n${secondText.slice(0, 20)}`);
    expect(file.read().map((event) => event.id)).toEqual([first.id]);
    expect(file.read()).toEqual([]);
    appendFileSync(path, `${secondText.slice(20)}\n`);
    expect(file.read().map((event) => event.id)).toEqual([second.id]);
  });

  it('reads a file that was replaced by a shorter one from its start', () => {
    const path = join(dir, 'replaced.jsonl');
    const file = new EventsFile(path);
    writeFileSync(path, `${JSON.stringify(envelope('CA Registered', { certificateId: ID }))}\n`.repeat(3));
    expect(file.read()).toHaveLength(3);
    const fresh = envelope('CA Expiring', { certificateId: ID, daysLeft: 12 });
    writeFileSync(path, `${JSON.stringify(fresh)}\n`);
    expect(file.read().map((event) => event.id)).toEqual([fresh.id]);
  });

  it('parses only envelopes of the pipeline', () => {
    expect(parseEnvelope('{"source":"iot-ca-pipeline"}')).toBeUndefined();
    expect(parseEnvelope('[')).toBeUndefined();
    expect(parseEnvelope(JSON.stringify(envelope('CA Retired', { certificateId: ID })))?.['detail-type']).toBe(
      'CA Retired',
    );
  });
});

describe('one line per event', () => {
  it('shows time, detail-type, the short id and what matters for each type', () => {
    const source = { bucket: 'b', key: 'incoming/factory.pem' };
    expect(
      eventLine(
        envelope('CA Registered', {
          certificateId: NEW_ID,
          certificateMode: 'DEFAULT',
          templateName: 'jitp',
          source,
          replaces: ID,
        }),
      ),
    ).toBe(
      `2026-12-05T04:00:00Z  CA Registered          ${'b'.repeat(16)}  DEFAULT, template jitp, replaces ${'a'.repeat(16)}, incoming/factory.pem`,
    );
    expect(
      eventLine(
        envelope('CA Registration Failed', {
          source,
          error: { name: 'NotACaError', message: 'not a CA', remedy: 'x', kind: 'business' },
        }),
      ),
    ).toMatch(/CA Registration Failed - {17}NotACaError: not a CA, incoming\/factory.pem$/);
    expect(
      eventLine(
        envelope('CA Expiring', {
          certificateId: ID,
          source,
          daysLeft: 12,
          notAfter: '2026-12-17T00:00:00Z',
          thresholdDays: 30,
        }),
      ),
    ).toContain('12 days left (notAfter 2026-12-17T00:00:00Z, warns at 30)');
    expect(eventLine(envelope('CA Drift Repaired', { certificateId: ID, drift: ['status INACTIVE'] }))).toContain(
      'repaired: status INACTIVE',
    );
    expect(
      eventLine(
        envelope('CA Retired', {
          certificateId: ID,
          outcome: 'retired',
          policy: 'deactivate',
          reason: 'rotated',
          deviceCertificates: { total: 3, byStatus: { ACTIVE: 2, REVOKED: 1 } },
          replacedBy: NEW_ID,
        }),
      ),
    ).toContain(
      `retired (deactivate), reason rotated, 3 device certificates: ACTIVE 2, REVOKED 1, replaced by ${'b'.repeat(16)}`,
    );
  });
});

describe('events on AWS: the log group', () => {
  it('reads every page from the start time, each message one envelope, skipping what is not one', async () => {
    const logs = mockClient(CloudWatchLogsClient);
    const first = envelope('CA Registered', { certificateId: ID });
    const second = envelope('CA Retired', { certificateId: ID });
    logs
      .on(FilterLogEventsCommand, { logGroupName: '/iot-ca-pipeline/dev/events', startTime: 1000 })
      .resolvesOnce({
        events: [
          { message: JSON.stringify(first), timestamp: 1500 },
          { message: 'START RequestId', timestamp: 1600 },
        ],
        nextToken: 'page-2',
      })
      .resolvesOnce({ events: [{ message: JSON.stringify(second), timestamp: 2500 }] });
    const found = await fetchLogEvents(new CloudWatchLogsClient({}), '/iot-ca-pipeline/dev/events', 1000);
    expect(found.map((each) => [each.event.id, each.timestamp])).toEqual([
      [first.id, 1500],
      [second.id, 2500],
    ]);
    expect(logs).toHaveReceivedCommandTimes(FilterLogEventsCommand, 2);
    expect(logs).toHaveReceivedNthCommandWith(FilterLogEventsCommand, 2, { nextToken: 'page-2' });
    logs.restore();
  });

  it('names a missing log group with the remedy', async () => {
    const logs = mockClient(CloudWatchLogsClient);
    logs
      .on(FilterLogEventsCommand)
      .rejects(
        Object.assign(new Error('The specified log group does not exist.'), { name: 'ResourceNotFoundException' }),
      );
    const failure = await fetchLogEvents(new CloudWatchLogsClient({}), '/iot-ca-pipeline/dev/events', undefined).catch(
      (error: unknown) => error as CliError,
    );
    expect(failure).toBeInstanceOf(CliError);
    expect((failure as CliError).name).toBe('EventsLogNotFoundError');
    expect((failure as CliError).message).toMatch(/redeploy/);
    logs.restore();
  });
});

describe('iot-ca events against a deployed stack', () => {
  const stackOutputs = (extra: Array<{ OutputKey: string; OutputValue: string }>) => ({
    Stacks: [
      {
        StackName: 'iot-ca-pipeline-dev',
        CreationTime: new Date(),
        StackStatus: 'CREATE_COMPLETE' as const,
        Outputs: [
          { OutputKey: 'CaBucketName', OutputValue: 'bucket' },
          { OutputKey: 'RegisterCaStateMachineArn', OutputValue: 'arn:register' },
          { OutputKey: 'ReconcileStateMachineArn', OutputValue: 'arn:reconcile' },
          ...extra,
        ],
      },
    ],
  });
  const printed = (): { out: Output; lines: string[]; data: Array<Record<string, unknown>> } => {
    const lines: string[] = [];
    const data: Array<Record<string, unknown>> = [];
    const out: Output = {
      json: false,
      result: () => undefined,
      progress: () => undefined,
      notice: () => undefined,
      progressEvent: () => undefined,
      event: (value, text) => {
        data.push(value);
        lines.push(text);
      },
    };
    return { out, lines, data };
  };

  it("reads the log group the stack's output names, oldest first", async () => {
    const cloudFormation = mockClient(CloudFormationClient);
    const logs = mockClient(CloudWatchLogsClient);
    cloudFormation
      .on(DescribeStacksCommand)
      .resolves(stackOutputs([{ OutputKey: 'EventsLogGroupName', OutputValue: '/iot-ca-pipeline/dev/events' }]));
    const older = envelope('CA Registered', { certificateId: ID }, '2026-12-05T03:00:00Z');
    const newer = envelope('CA Retired', { certificateId: ID }, '2026-12-05T03:30:00Z');
    logs.on(FilterLogEventsCommand).resolves({
      events: [
        { message: JSON.stringify(newer), timestamp: Date.parse(newer.time) },
        { message: JSON.stringify(older), timestamp: Date.parse(older.time) },
      ],
    });
    const { out, data } = printed();
    expect(await events({ since: '2026-12-05T02:00:00Z' }, { stage: 'dev', region: 'eu-west-1' }, out)).toBe(0);
    expect(data.map((each) => each.id)).toEqual([older.id, newer.id]);
    expect(logs).toHaveReceivedCommandWith(FilterLogEventsCommand, {
      logGroupName: '/iot-ca-pipeline/dev/events',
      startTime: Date.parse('2026-12-05T02:00:00Z'),
    });
    cloudFormation.restore();
    logs.restore();
  });

  it('--follow polls again, prints each event once, and ends on Ctrl-C with 0', async () => {
    const cloudFormation = mockClient(CloudFormationClient);
    const logs = mockClient(CloudWatchLogsClient);
    cloudFormation
      .on(DescribeStacksCommand)
      .resolves(stackOutputs([{ OutputKey: 'EventsLogGroupName', OutputValue: '/iot-ca-pipeline/dev/events' }]));
    const first = envelope('CA Registered', { certificateId: ID }, '2026-12-05T03:00:00Z');
    const second = envelope('CA Expiring', { certificateId: ID, daysLeft: 9 }, '2026-12-05T03:00:05Z');
    const log = (event: EventEnvelope) => ({ message: JSON.stringify(event), timestamp: Date.parse(event.time) });
    logs
      .on(FilterLogEventsCommand)
      .resolvesOnce({ events: [log(first)] })
      // The next read starts before the last timestamp: the first event comes again.
      .resolves({ events: [log(first), log(second)] });
    const { out, data } = printed();
    const following = events({ follow: true }, { stage: 'dev', region: 'eu-west-1' }, out);
    const deadline = Date.now() + 10_000;
    while (data.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    process.emit('SIGINT');
    expect(await following).toBe(0);
    expect(data.map((each) => each.id)).toEqual([first.id, second.id]);
    expect(logs).toHaveReceivedNthCommandWith(FilterLogEventsCommand, 2, {
      startTime: Date.parse(first.time) - 10_000,
    });
    cloudFormation.restore();
    logs.restore();
  });

  it('names a stack deployed before the events log group, with the remedy', async () => {
    const cloudFormation = mockClient(CloudFormationClient);
    cloudFormation.on(DescribeStacksCommand).resolves(stackOutputs([]));
    const failure = await events({}, { stage: 'dev', region: 'eu-west-1' }, printed().out).catch(
      (error: unknown) => error as CliError,
    );
    expect((failure as CliError).name).toBe('StackNotFoundError');
    expect((failure as CliError).message).toMatch(/no output EventsLogGroupName: redeploy/);
    cloudFormation.restore();
  });
});

describe('iot-ca --local events on a state directory with no running stack', () => {
  let home: string;
  let file: string;
  const registered = envelope(
    'CA Registered',
    { certificateId: ID, certificateMode: 'SNI_ONLY' },
    '2026-12-05T03:00:00Z',
  );
  const retired = envelope(
    'CA Retired',
    { certificateId: ID, outcome: 'retired', policy: 'deactivate', reason: 'manual' },
    '2026-12-05T03:10:00Z',
  );

  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'iot-ca-events-'));
    mkdirSync(join(home, 'state', 'logs'), { recursive: true });
    file = join(home, 'state', 'logs', '_iot-ca-pipeline_local_events.jsonl');
    // Written out of order: the command prints oldest first.
    writeFileSync(file, `${JSON.stringify(retired)}\n${JSON.stringify(registered)}\n`);
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('prints one line per event, oldest first, and starts no stack', async () => {
    const run = await runCli(home, ['--local', 'events']);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^2026-12-05T03:00:00Z {2}CA Registered +a{16} {2}SNI_ONLY$/);
    expect(lines[1]).toMatch(/CA Retired +a{16} {2}retired \(deactivate\), reason manual$/);
    expect(run.stderr).not.toMatch(/starting the local stack/);
  });

  it('--json prints each envelope as one line; --type and --since filter', async () => {
    const json = await runCli(home, ['--local', '--json', 'events', '--type', 'CA Retired']);
    expect(json.code).toBe(0);
    expect(
      json.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line)),
    ).toEqual([retired]);
    const since = await runCli(home, ['--local', 'events', '--since', '2026-12-05T03:05:00Z']);
    expect(since.stdout.trim().split('\n')).toHaveLength(1);
    expect(since.stdout).toContain('CA Retired');
  });

  it('says there are no events yet on a state directory without them', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'iot-ca-events-empty-'));
    const run = await runCli(empty, ['--local', 'events']);
    rmSync(empty, { recursive: true, force: true });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/no events yet/);
  });

  it('--follow prints an event appended later, and Ctrl-C ends it with exit 0', async () => {
    const child = spawn(process.execPath, [BIN, '--local', '--json', 'events', '--follow'], {
      cwd: home,
      env: { ...process.env, IOT_CA_HOME: join(home, 'state'), IOT_CA_LOG_LEVEL: 'SILENT' },
    });
    const lines: string[] = [];
    const seen = (id: string) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (lines.some((line) => line.includes(id))) resolve();
          else setTimeout(check, 50);
        };
        check();
      });
    createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await seen(retired.id);
    const later = envelope('CA Expiring', { certificateId: ID, daysLeft: 20, thresholdDays: 30 });
    appendFileSync(file, `${JSON.stringify(later)}\n`);
    await seen(later.id);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(lines.map((line) => JSON.parse(line).id)).toEqual([registered.id, retired.id, later.id]);
    appendFileSync(file, `${JSON.stringify(registered)}\n`);
  });
});
