/**
 * Issue 12, "The CLI as an operator expects it": each item as an operator meets it, through the
 * `iot-ca` command in separate processes, against one `iot-ca up` (text mode, as a person runs it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { parse } from 'yaml';
import { makeCa, makeLeaf, P256, privateKeyPem, type Pki } from '../fixtures/pki.ts';

const BIN = resolve('bin/iot-ca.mjs');
const ROOT = resolve('.');
const DAY = 86_400_000;
let home: string;
let state: string;
let up: ChildProcess;
/** Every line the shared `up` has logged so far. */
let upLines: string[] = [];
let registrationCode: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const exec = (args: string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<Run> =>
  new Promise((done) => {
    const env: Record<string, string | undefined> = {
      ...process.env,
      IOT_CA_HOME: state,
      IOT_CA_LOG_LEVEL: 'SILENT',
      ...options.env,
    };
    for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: options.cwd ?? home, env, timeout: 150_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
const iotCa = (...args: string[]): Promise<Run> => exec(args);
const file = (name: string, text: string | Uint8Array): string => {
  mkdirSync(join(home, name, '..'), { recursive: true });
  writeFileSync(join(home, name), text);
  return name;
};
const json = <T = any>(run: Run): T => JSON.parse(run.stdout) as T;

/** The key patterns of serverless.yml's trigger, read the way a person reads the file. */
const triggerPatterns = (): string[] => {
  const config = parse(readFileSync(join(ROOT, 'serverless.yml'), 'utf8'), { logLevel: 'silent' }) as any;
  const prefix: string = config.params.default.incomingPrefix;
  const rule = Object.values(config.resources.Resources as Record<string, any>).find(
    (r) => r.Type === 'AWS::Events::Rule' && r.Properties.EventPattern,
  );
  return rule.Properties.EventPattern.detail.object.key.map((filter: { wildcard: string }) =>
    filter.wildcard.replace('${param:incomingPrefix}', prefix),
  );
};

const startUp = (
  env: Record<string, string>,
  args: string[] = [],
): { child: ChildProcess; lines: string[]; ready: Promise<string> } => {
  const child = spawn(process.execPath, [BIN, 'up', '--no-schedules', ...args], {
    cwd: home,
    env: { ...process.env, IOT_CA_LOG_LEVEL: 'SILENT', ...env },
  });
  const lines: string[] = [];
  const ready = new Promise<string>((done, fail) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      lines.push(line);
      if (line.startsWith('iot-ca local stack ready')) done(line);
    });
    child.once('exit', (code) => fail(new Error(`up exited ${code}`)));
  });
  return { child, lines, ready };
};

const waitFor = async (condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
};

/** A CA whose subject is its own (the emulator allows 10 CAs per subject, as AWS does). */
let serial = 0;
const freshCa = (name: string, options: Parameters<typeof makeCa>[0] = {}): Promise<Pki> =>
  makeCa({ key: P256, fresh: true, subject: `CN=${name} ${process.pid}-${serial++}, O=operator tests`, ...options });

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'iot-ca-operator-'));
  state = join(home, 'state');
  const started = startUp({ IOT_CA_HOME: state });
  up = started.child;
  upLines = started.lines;
  await started.ready;
  registrationCode = (await iotCa('--local', 'registration-code')).stdout.trim();
}, 60_000);

afterAll(async () => {
  if (up.exitCode === null) {
    const exited = new Promise((done) => up.once('exit', done));
    up.kill('SIGINT');
    await exited;
  }
  rmSync(home, { recursive: true, force: true });
});

describe('1. keys the trigger ignores are refused before uploading', () => {
  it('refuses a .cer file at once, naming the trigger patterns serverless.yml declares and the key that works', async () => {
    const ca = await freshCa('Cer CA');
    const started = Date.now();
    const run = await iotCa('--local', 'drop', file('root-ca.cer', ca.pem), '--mode', 'SNI_ONLY', '--wait');
    expect(run.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(run.stderr).toMatch(/^error: UntriggeredKeyError: /);
    for (const pattern of triggerPatterns()) expect(run.stderr).toContain(pattern);
    expect(run.stderr).toContain('--key incoming/root-ca.pem');
    expect(run.stderr).toContain('Nothing was uploaded');
    // Nothing was uploaded: no result and no execution for it.
    expect((await iotCa('--local', 'result', 'root-ca.cer')).stderr).toMatch(/ResultNotFoundError/);
    // The key it suggests works.
    const renamed = await iotCa(
      '--local',
      '--json',
      'drop',
      'root-ca.cer',
      '--key',
      'incoming/root-ca.pem',
      '--mode',
      'SNI_ONLY',
      '--wait',
    );
    expect(renamed.code).toBe(0);
    expect(json(renamed)).toMatchObject({ key: 'incoming/root-ca.pem', active: true });
  });

  it('refuses --key outside the incoming prefix', async () => {
    const ca = await freshCa('Elsewhere CA');
    const run = await iotCa(
      '--local',
      '--json',
      'drop',
      file('elsewhere.pem', ca.pem),
      '--key',
      'elsewhere/ca.pem',
      '--mode',
      'SNI_ONLY',
      '--wait',
    );
    expect(run.code).toBe(1);
    expect(json(run).error).toMatchObject({
      name: 'UntriggeredKeyError',
      message: expect.stringContaining('put it under incoming/'),
    });
  });
});

describe('2. many CAs at once', () => {
  it('drops a folder of 20 PEMs with one command and ends with 20 outcomes, exit 0', async () => {
    for (let i = 0; i < 20; i++)
      file(`fleet/ca-${String(i).padStart(2, '0')}.pem`, (await freshCa(`Fleet CA ${i}`)).pem);
    file('fleet/README.txt', 'not a certificate');
    const run = await iotCa('--local', 'drop', 'fleet', '--mode', 'SNI_ONLY', '--wait');
    expect(run.code).toBe(0);
    const rows = run.stdout.split('\n').filter((line) => line.startsWith('fleet/'));
    expect(rows).toHaveLength(20);
    for (const row of rows) expect(row).toMatch(/^fleet\/ca-\d\d\.pem\s+ACTIVE\s+[0-9a-f]{64}$/);
    expect(run.stdout).toMatch(/^FILE\s+OUTCOME\s+CERTIFICATE ID \/ ERROR/);
    expect(run.stdout).toContain('20 files: 20 ACTIVE, 0 not ACTIVE');
    expect(run.stderr).toContain('skipped in fleet: README.txt');
    // Progress as plain lines when stderr is not a terminal.
    expect(run.stderr).toMatch(/uploaded 20\/20/);
    expect(run.stderr).toMatch(/20\/20 done: 20 ACTIVE, 0 FAILED/);
  }, 150_000);

  it('takes several files, pairs a folder CA with its <name>.verification.pem, and exits 1 unless every one ends ACTIVE', async () => {
    const good = await freshCa('Paired CA');
    file('mixed/paired.pem', good.pem);
    file('mixed/paired.verification.pem', (await makeLeaf(good, `CN=${registrationCode}`)).pem);
    file('leaf.pem', (await freshCa('Leaf', { ca: false })).pem);
    const run = await iotCa('--local', '--json', 'drop', 'mixed', 'leaf.pem', '--wait');
    expect(run.code).toBe(1);
    const output = json(run);
    expect(output.summary).toEqual({ total: 2, active: 1, failed: 1 });
    expect(output.files).toEqual([
      expect.objectContaining({
        file: 'mixed/paired.pem',
        outcome: 'ACTIVE',
        certificateId: expect.stringMatching(/^[0-9a-f]{64}$/),
      }),
      expect.objectContaining({
        file: 'leaf.pem',
        outcome: 'FAILED',
        error: expect.objectContaining({ name: 'NotACaError' }),
      }),
    ]);
    // With --json, progress is JSON lines on stderr; stdout stays one document.
    const events = run.stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(events.filter((event) => event.event === 'uploaded')).toHaveLength(2);
    expect(
      events
        .filter((event) => event.event === 'done')
        .map((event) => event.outcome)
        .sort(),
    ).toEqual(['ACTIVE', 'FAILED']);
  }, 60_000);
});

describe('2. (on a terminal)', () => {
  // util-linux `script` gives the command a pseudo-terminal, as a person's shell would.
  const hasScript = existsSync('/usr/bin/script');
  it.skipIf(!hasScript)('rewrites one progress line in place on a terminal, then prints the summary', async () => {
    for (let i = 0; i < 3; i++) file(`tty/ca-${i}.pem`, (await freshCa(`Tty CA ${i}`)).pem);
    const command = [process.execPath, BIN, '--local', 'drop', 'tty', '--mode', 'SNI_ONLY', '--wait']
      .map((part) => `'${part}'`)
      .join(' ');
    const run = await new Promise<Run>((done) =>
      execFile(
        '/usr/bin/script',
        ['-qec', command, '/dev/null'],
        { cwd: home, env: { ...process.env, IOT_CA_HOME: state, IOT_CA_LOG_LEVEL: 'SILENT' }, timeout: 60_000 },
        (error, stdout, stderr) => done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      ),
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('\r\x1b[Kuploaded 3/3');
    expect(run.stdout).toContain('\r\x1b[K3/3 done: 3 ACTIVE, 0 FAILED');
    expect(run.stdout).toContain('3 files: 3 ACTIVE, 0 not ACTIVE');
  });
});

describe('3. results you can find', () => {
  it('drop without --wait prints the execution and the command that shows the outcome', async () => {
    const ca = await freshCa('Nowait CA');
    const run = await iotCa('--local', '--json', 'drop', file('nowait.pem', ca.pem), '--mode', 'SNI_ONLY');
    expect(run.code).toBe(0);
    const output = json(run);
    expect(output).toMatchObject({
      key: 'incoming/nowait.pem',
      resultKey: 'results/incoming/nowait.pem.json',
      executionArn: expect.stringMatching(/:execution:.+:.+/),
    });
    let shown: Run | undefined;
    await waitFor(async () => {
      shown = await iotCa('--local', '--json', 'result', 'nowait.pem');
      return json(shown).outcome !== 'RUNNING';
    });
    expect(shown?.code).toBe(0);
    expect(json(shown as Run)).toMatchObject({
      outcome: 'ACTIVE',
      result: { outcome: 'ACTIVE', certificateId: expect.any(String) },
      execution: {
        executionArn: output.executionArn,
        status: 'SUCCEEDED',
        steps: expect.arrayContaining([expect.objectContaining({ name: 'RecordResult' })]),
      },
    });
  });

  it('result shows a failure report with what to do, and list --all includes the failed file', async () => {
    const leaf = await freshCa('Failed leaf', { ca: false });
    await iotCa('--local', 'drop', file('failed-leaf.pem', leaf.pem), '--mode', 'SNI_ONLY', '--wait');
    const shown = await iotCa('--local', 'result', 'incoming/failed-leaf.pem');
    expect(shown.code).toBe(1);
    expect(shown.stdout).toMatch(/^incoming\/failed-leaf\.pem {2}FAILED/);
    expect(shown.stdout).toContain('report    s3://iot-ca-local/results/incoming/failed-leaf.pem.json');
    expect(shown.stdout).toMatch(/error {5}NotACaError: /);
    expect(shown.stdout).toMatch(/what to do: .*CA:TRUE/);
    expect(shown.stdout).toMatch(/✗ LoadCertificate/);
    const all = json(await iotCa('--local', '--json', 'list', '--all'));
    expect(all.files).toContainEqual(
      expect.objectContaining({
        key: 'incoming/failed-leaf.pem',
        outcome: 'FAILED',
        error: expect.objectContaining({ name: 'NotACaError' }),
      }),
    );
    expect(all.files).toContainEqual(expect.objectContaining({ key: 'incoming/nowait.pem', outcome: 'ACTIVE' }));
    const plain = json(await iotCa('--local', '--json', 'list'));
    expect(Array.isArray(plain)).toBe(true);
  });

  it("demo names each receipt's actual key", async () => {
    const demoState = join(home, 'demo-state');
    const run = await exec(['demo'], { env: { IOT_CA_HOME: demoState } });
    expect(run.code).toBe(0);
    const receipts = [...run.stdout.matchAll(/receipt s3:\/\/iot-ca-local\/(\S+)/g)].map((match) => match[1] as string);
    expect(receipts).toHaveLength(2);
    // The demo ends with a device of each CA provisioned through JITP and connected.
    expect(run.stdout.match(/CONNECTED after \d+ attempt\(s\): JITP provisioned the device/g)).toHaveLength(2);
    expect(run.stdout).not.toMatch(/NOT CONNECTED/);
    for (const key of receipts) {
      expect(key).toMatch(/^results\/incoming\/demo-.*\.pem\.json$/);
      // The receipt is where the line says: `result` reads it back, long after the demo's stack stopped.
      const shown = await exec(['--local', '--json', 'result', key.replace(/^results\//, '').replace(/\.json$/, '')], {
        env: { IOT_CA_HOME: demoState },
      });
      expect(json(shown)).toMatchObject({ resultKey: key, outcome: 'ACTIVE', result: { outcome: 'ACTIVE' } });
    }
  }, 60_000);
});

describe('4. ids as list prints them', () => {
  it('status takes the 16-character id list prints, and names the CAs an ambiguous prefix matches', async () => {
    const list = await iotCa('--local', 'list');
    const ids = list.stdout
      .split('\n')
      .slice(1)
      .map((line) => line.split(/\s+/)[0] as string);
    expect(ids.length).toBeGreaterThan(16);
    const status = await iotCa('--local', '--json', 'status', ids[0] as string);
    expect(status.code).toBe(0);
    expect(json(status).certificateId).toMatch(new RegExp(`^${ids[0]}[0-9a-f]{48}$`));
    // More than 16 CAs: two share a first hex digit.
    const shared = ids.find((id, index) => ids.some((other, j) => j !== index && other[0] === id[0]))?.[0] as string;
    const ambiguous = await iotCa('--local', '--json', 'status', shared);
    expect(ambiguous.code).toBe(1);
    expect(json(ambiguous).error).toMatchObject({
      name: 'AmbiguousIdError',
      message: expect.stringMatching(new RegExp(`start with ${shared}: [0-9a-f]{16}, [0-9a-f]{16}`)),
    });
    const unknown = await iotCa('--local', '--json', 'status', 'ffffffffffffffffff'.slice(0, 17));
    expect(json(unknown).error.name).toMatch(/CaNotFoundError/);
  });
});

describe('5. step output that agrees with itself', () => {
  it('drop --wait on a leaf reports LoadCertificate once, as failed', async () => {
    const leaf = await freshCa('Step leaf', { ca: false });
    const run = await iotCa(
      '--local',
      '--json',
      'drop',
      file('step-leaf.pem', leaf.pem),
      '--mode',
      'SNI_ONLY',
      '--wait',
    );
    const load = json(run).steps.filter((step: { name: string }) => step.name === 'LoadCertificate');
    expect(load).toEqual([expect.objectContaining({ outcome: 'failed', error: 'NotACaError' })]);
    const text = await iotCa('--local', 'drop', 'step-leaf.pem', '--mode', 'SNI_ONLY', '--wait');
    const lines = text.stderr.split('\n').filter((line) => line.includes('LoadCertificate'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/✗ LoadCertificate .* NotACaError/);
  });

  it('up names every local endpoint it serves, KMS and Private CA included, as stack.json lists them', async () => {
    const { endpoints } = JSON.parse(readFileSync(join(state, 'stack.json'), 'utf8'));
    for (const service of ['s3', 'iot', 'sfn', 'kms', 'pca'])
      expect(upLines.some((line) => line.startsWith(`  ${service.padEnd(4)} ${endpoints[service]}`))).toBe(true);
    expect(upLines.find((line) => line.startsWith('  kms '))).toContain('gone when this stack stops');
  });

  it('up marks failed steps ✗, prefixes every line with its execution, and labels reconcile runs as such', async () => {
    const leaf = await freshCa('Up leaf', { ca: false });
    await iotCa('--local', 'drop', file('up-leaf.pem', leaf.pem), '--mode', 'SNI_ONLY', '--wait');
    const started = upLines.find((line) => line.startsWith('▶') && line.includes('incoming/up-leaf.pem')) as string;
    const id = started.split(/\s+/)[1] as string;
    await waitFor(() => upLines.some((line) => line.startsWith(`✖ ${id}`)));
    const mine = upLines.filter((line) => line.includes(id));
    expect(mine.filter((line) => line.includes('LoadCertificate'))).toEqual([
      expect.stringMatching(new RegExp(`^${id} {2}✗ LoadCertificate .*NotACaError`)),
    ]);
    expect(mine.at(-1)).toMatch(new RegExp(`^✖ ${id} {2}FAILED`));
    const reconcile = await iotCa('--local', 'reconcile');
    expect(reconcile.code).toBe(0);
    await waitFor(() =>
      upLines.some(
        (line) =>
          /^▶ \S+ {2}\S*reconcile /.test(line) &&
          upLines.some((other) => other.startsWith(`✔ ${line.split(/\s+/)[1]}`)),
      ),
    );
    const run = upLines.find((line) => /^▶ \S+ {2}\S*reconcile /.test(line)) as string;
    const runId = run.split(/\s+/)[1] as string;
    expect(run).not.toContain('(invalid input)');
    expect(upLines.find((line) => line.startsWith(`✔ ${runId}`))).toMatch(/SUCCEEDED$/);
    // Every step line says whose step it is.
    for (const line of upLines.filter((l) => /[✓✗] \w+\s+\d+ ms/.test(l))) expect(line).toMatch(/^\S{1,8} {2}[✓✗↻]/);
  });
});

describe('6. tags without surprises', () => {
  it('refuses "&" and "," in a tag, naming the value and how to give two tags', async () => {
    const ca = await freshCa('Tag CA');
    const amp = await iotCa(
      '--local',
      '--json',
      'drop',
      file('tagged.pem', ca.pem),
      '--mode',
      'SNI_ONLY',
      '--tag',
      'team=factory&env=prod',
    );
    expect(amp.code).toBe(1);
    expect(json(amp).error).toMatchObject({
      name: 'InvalidOptionsError',
      message: expect.stringContaining('the value "factory&env=prod" of tag "team"'),
    });
    expect(json(amp).error.message).toContain('--tag team=factory --tag env=prod');
    const comma = await iotCa('--local', '--json', 'drop', 'tagged.pem', '--mode', 'SNI_ONLY', '--tag', 'team=a,b');
    expect(json(comma).error.message).toContain('the value "a,b" of tag "team" has ","');
    expect((await iotCa('--local', 'result', 'tagged.pem')).stderr).toMatch(/ResultNotFoundError/);
  });

  it('keeps "+", "=" and spaces in a value as typed', async () => {
    const run = await iotCa(
      '--local',
      '--json',
      'drop',
      'tagged.pem',
      '--mode',
      'SNI_ONLY',
      '--tag',
      'formula=a+b=c',
      '--tag',
      'owner=Factory Team',
      '--wait',
    );
    expect(run.code).toBe(0);
    const { tags } = json(run).result;
    expect({ formula: tags.formula, owner: tags.owner }).toEqual({ formula: 'a+b=c', owner: 'Factory Team' });
  });

  it('shows the plan of a re-drop of a registered CA before uploading: tags it removes, nothing for a CA in sync', async () => {
    const dry = await iotCa('--local', '--json', 'drop', 'tagged.pem', '--mode', 'SNI_ONLY', '--dry-run');
    expect(dry.code).toBe(0);
    const plan = json(dry).files[0].plan;
    expect(plan).toMatchObject({ registered: true, status: 'ACTIVE' });
    expect(plan.changes).toEqual(
      expect.arrayContaining([
        '- tag formula=a+b=c (not in this drop: removed)',
        '- tag owner=Factory Team (not in this drop: removed)',
      ]),
    );
    const same = await iotCa(
      '--local',
      'drop',
      'tagged.pem',
      '--mode',
      'SNI_ONLY',
      '--tag',
      'formula=a+b=c',
      '--tag',
      'owner=Factory Team',
      '--wait',
    );
    expect(same.code).toBe(0);
    const planLine = same.stderr.indexOf('in sync, nothing will change');
    expect(planLine).toBeGreaterThanOrEqual(0);
    expect(planLine).toBeLessThan(same.stderr.indexOf('uploaded s3://'));
    const conflict = await iotCa('--local', 'drop', 'tagged.pem', '--mode', 'DEFAULT', '--dry-run');
    expect(conflict.stdout).toMatch(
      /registered in SNI_ONLY mode, this drop asks DEFAULT: the flow will fail \(CertificateModeConflictError\)/,
    );
  });
});

describe('6. (the report side) a failed re-drop of an ACTIVE CA', () => {
  it('says the CA from before is still live, in drop --wait and in result', async () => {
    const run = await iotCa('--local', 'drop', 'tagged.pem', '--mode', 'DEFAULT', '--wait');
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^FAILED {2}\w+Error/);
    const id = /still live: CA ([0-9a-f]{64})/.exec(run.stdout)?.[1] as string;
    expect(json(await iotCa('--local', '--json', 'status', id))).toMatchObject({ status: 'ACTIVE' });
    expect((await iotCa('--local', 'result', 'tagged.pem')).stdout).toContain(`still live: CA ${id}`);
  });
});

describe('7. a stack you can stop', () => {
  it('refuses a second up on the same state directory with the first one’s endpoints, and leaves the first running', async () => {
    const info = JSON.parse(readFileSync(join(state, 'stack.json'), 'utf8'));
    const second = await exec(['up', '--no-schedules']);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/^error: StackAlreadyRunningError: /);
    expect(second.stderr).toContain(info.endpoints.s3);
    expect(second.stderr).toContain(info.endpoints.iot);
    expect(JSON.parse(readFileSync(join(state, 'stack.json'), 'utf8')).pid).toBe(info.pid);
    expect((await iotCa('--local', 'list')).stderr).not.toMatch(/starting the local stack/);
  });

  it('down stops the up of the state directory; a second down has nothing to stop', async () => {
    const downState = join(home, 'down-state');
    const other = startUp({ IOT_CA_HOME: downState });
    await other.ready;
    const exited = new Promise<number | null>((done) => other.child.once('exit', done));
    const down = await exec(['down'], { env: { IOT_CA_HOME: downState } });
    expect(down.code).toBe(0);
    expect(down.stdout).toContain(`stopped iot-ca up (pid ${other.child.pid})`);
    expect(await exited).toBe(0);
    expect(existsSync(join(downState, 'stack.json'))).toBe(false);
    expect((await exec(['down'], { env: { IOT_CA_HOME: downState } })).stdout).toContain('no iot-ca up is running');
  });

  it('started through npm (npx iot-ca up &), it stops when npm is killed', async () => {
    const npxState = join(home, 'npx-state');
    // Stands in for npm exec: a parent that sets npm's variables and dies on SIGTERM without passing it on.
    const parent = spawn(
      process.execPath,
      [
        '-e',
        `require('child_process').spawn(process.execPath, ${JSON.stringify([BIN, 'up', '--no-schedules'])}, { stdio: 'inherit' }); setInterval(() => {}, 1000);`,
      ],
      {
        cwd: home,
        env: {
          ...process.env,
          IOT_CA_HOME: npxState,
          IOT_CA_LOG_LEVEL: 'SILENT',
          npm_command: 'exec',
          npm_execpath: '/usr/lib/node_modules/npm/bin/npm-cli.js',
        },
      },
    );
    await new Promise<void>((done) =>
      createInterface({ input: parent.stdout }).on(
        'line',
        (line) => line.startsWith('iot-ca local stack ready') && done(),
      ),
    );
    const { endpoints } = JSON.parse(readFileSync(join(npxState, 'stack.json'), 'utf8'));
    parent.kill('SIGTERM');
    await waitFor(() => !existsSync(join(npxState, 'up.lock')), 45_000);
    expect(existsSync(join(npxState, 'stack.json'))).toBe(false);
    await expect(fetch(endpoints.iot, { signal: AbortSignal.timeout(1000) })).rejects.toThrow();
  }, 90_000);
});

describe('8. outside the clone', () => {
  it('runs from another folder through a link to the bin, as npm link installs it', async () => {
    const globalBin = mkdtempSync(join(home, 'global-bin-'));
    symlinkSync(BIN, join(globalBin, 'iot-ca'));
    const pki = mkdtempSync(join(home, 'operator-pki-'));
    const run = await new Promise<Run>((done) =>
      execFile(
        join(globalBin, 'iot-ca'),
        ['--json', 'check', file('linked.pem', 'not a certificate')].map((arg) =>
          arg === 'linked.pem' ? join(home, arg) : arg,
        ),
        { cwd: pki },
        (error, stdout, stderr) => done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      ),
    );
    expect(run.code).toBe(1);
    expect(json(run)).toMatchObject({ verdict: 'FAIL', error: { name: 'NotPemError' } });
  });

  it('says which state directory a --local command created, and only when it creates one', async () => {
    const elsewhere = mkdtempSync(join(home, 'pki-'));
    const first = await exec(['--local', 'registration-code'], { cwd: elsewhere, env: { IOT_CA_HOME: undefined } });
    expect(first.code).toBe(0);
    expect(first.stderr).toContain(`created a new local state directory ${join(elsewhere, '.iot-ca')}`);
    const second = await exec(['--local', '--json', 'registration-code'], {
      cwd: elsewhere,
      env: { IOT_CA_HOME: undefined },
    });
    expect(second.stderr).not.toContain('created a new local state directory');
    const third = await exec(['--local', '--json', 'registration-code'], {
      cwd: elsewhere,
      env: { IOT_CA_HOME: join(elsewhere, 'other') },
    });
    expect(JSON.parse(third.stderr.split('\n')[0] as string)).toEqual({
      notice: expect.stringContaining(join(elsewhere, 'other')),
    });
  });
});

describe('9. check that matches drop', () => {
  it('uses drop’s default mode: a CA alone fails for want of a verification certificate', async () => {
    const ca = await freshCa('Check CA');
    const run = await iotCa('--json', 'check', file('check-ca.pem', ca.pem));
    expect(run.code).toBe(1);
    expect(json(run)).toMatchObject({
      verdict: 'FAIL',
      error: {
        name: 'VerificationCertificateMissingError',
        message: expect.stringContaining('DEFAULT mode (the default, as for drop)'),
      },
    });
  });

  it('refuses the CA given as its own verification certificate', async () => {
    const run = await iotCa('--json', 'check', 'check-ca.pem', '--verification', 'check-ca.pem');
    expect(run.code).toBe(1);
    expect(json(run).error).toMatchObject({
      name: 'VerificationSignatureError',
      message: expect.stringContaining('the CA certificate itself'),
    });
  });

  it('speaks of no bucket for a private key, and gives the openssl pkcs7 command for a DER PKCS#7 bundle', async () => {
    const ca = await freshCa('Remedy CA');
    const key = await privateKeyPem(ca.keys);
    const keyRun = json(await iotCa('--json', 'check', file('with-key.pem', `${ca.pem}${key}`)));
    expect(keyRun.error.name).toBe('PrivateKeyMaterialError');
    expect(keyRun.error.remedy).toContain('Nothing was uploaded');
    expect(keyRun.error.remedy).not.toMatch(/bucket/);
    const p7b = Buffer.from(new x509.X509Certificates([ca.certificate]).export('raw'));
    const p7Run = json(await iotCa('--json', 'check', file('bundle.p7b', p7b)));
    expect(p7Run.error.name).toBe('NotPemError');
    expect(p7Run.error.remedy).toContain('openssl pkcs7 -inform der -print_certs');
    const derRun = json(await iotCa('--json', 'check', file('plain.der', new Uint8Array(ca.certificate.rawData))));
    expect(derRun.error.remedy).toContain('openssl x509 -inform der');
  });

  it('shows 10 days left for a certificate issued for 10 days', async () => {
    const ca = await freshCa('Ten days CA', { notAfter: new Date(Date.now() + 10 * DAY) });
    const run = await iotCa('check', file('ten-days.pem', ca.pem), '--mode', 'SNI_ONLY');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/notAfter {2}\S+ \(10 days\)/);
    expect(run.stdout).toContain('expires in 10 days');
  });
});

describe('10. small things', () => {
  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const run = await iotCa('--version');
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(version);
  });

  it('every relative link in the README leads to a file of the repository, the IoT rules included', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)]
      .map((match) => match[1] as string)
      .filter((link) => !/^[a-z]+:/.test(link));
    expect(links).toContain('docs/aws-iot-rules.md');
    for (const link of links) expect(existsSync(join(ROOT, link)), link).toBe(true);
  });

  it('drops an empty file without the SDK warning of a stream of unknown length', async () => {
    const run = await iotCa('--local', 'drop', file('empty.pem', ''), '--mode', 'SNI_ONLY', '--wait');
    expect(run.stdout).toMatch(/^FAILED {2}NotPemError/);
    expect(run.stderr).not.toMatch(/unknown length/i);
  });

  it('up prints the local S3 credentials, and they work with any S3 client', async () => {
    const ready = upLines.find((line) => line.includes('credentials')) as string;
    const [, accessKeyId, secretAccessKey] = /credentials (\S+) \/ (\S+):/.exec(ready) ?? [];
    const { endpoints, bucket } = JSON.parse(readFileSync(join(state, 'stack.json'), 'utf8'));
    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: endpoints.s3,
      forcePathStyle: true,
      credentials: { accessKeyId: accessKeyId as string, secretAccessKey: secretAccessKey as string },
    });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'incoming/' }));
    s3.destroy();
    expect(listed.Contents?.map((object) => object.Key)).toContain('incoming/tagged.pem');
  });
});
