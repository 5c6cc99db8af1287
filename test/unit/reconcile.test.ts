import { describe, expect, it } from 'vitest';
import {
  deepDrift,
  nextSnapshot,
  parseSnapshot,
  planShallow,
  repairExecutionName,
  resultsBySource,
  resultsToRead,
  SNAPSHOT_SCHEMA,
  summarizeResult,
  type DeepCandidate,
  type ListedCa,
  type ListedObject,
  type ResultDocument,
  type ResultSnapshot,
  type SnapshotEntry,
} from '../../functions/core/reconcile.ts';
import { lastRetireWrites } from '../../functions/aws/reconcile.ts';
import { RESULT_SCHEMA, type FailureReport, type Receipt } from '../../functions/core/results.ts';

const now = new Date('2026-11-28T00:00:00Z');
const id = (n: number) => String(n).repeat(64).slice(0, 64);
const receipt = (key: string, certificateId: string, overrides: Partial<Receipt> = {}): Receipt => ({
  schema: RESULT_SCHEMA,
  outcome: 'ACTIVE',
  source: { bucket: 'b', key, etag: `etag-${key}` },
  certificateId,
  certificateArn: `arn:cacert/${certificateId}`,
  certificateMode: 'DEFAULT',
  templateName: 'jitp',
  tags: { team: 'x' },
  adopted: false,
  subject: 'CN=x',
  notAfter: '2027-11-28T00:00:00Z',
  warnings: [],
  finishedAt: now.toISOString(),
  ...overrides,
});
const listed = (certificateId: string, status = 'ACTIVE'): [string, ListedCa] => [
  certificateId,
  { certificateId, certificateArn: `arn:cacert/${certificateId}`, status },
];
const plan = (
  objects: string[],
  results: ResultDocument[],
  cas: Array<[string, ListedCa]>,
  attached: string[],
  lastModified = new Date(0),
) =>
  planShallow({
    objects: objects.map((key) => ({ key, etag: `etag-${key}`, lastModified })),
    results: new Map(results.map((result) => [result.source.key, result])),
    cas: new Map(cas),
    templateMembers: new Map([['jitp', new Set(attached)]]),
    now,
    expiryWarningDays: 30,
    graceMinutes: 60,
  });

describe('planShallow', () => {
  it('leaves an ACTIVE, attached CA in sync and hands it to the deep check', () => {
    const result = plan(['a.pem'], [receipt('a.pem', id(1))], [listed(id(1))], [id(1)]);
    expect(result.findings).toEqual([]);
    expect(result.inSync).toEqual([
      expect.objectContaining({ key: 'a.pem', certificateId: id(1), templateName: 'jitp', tags: { team: 'x' } }),
    ]);
  });

  it('registers an object with no receipt, a changed object, and one whose CA vanished from IoT', () => {
    const result = plan(
      ['new.pem', 'changed.pem', 'gone.pem'],
      [
        receipt('changed.pem', id(2), { source: { bucket: 'b', key: 'changed.pem', etag: 'old' } }),
        receipt('gone.pem', id(3)),
      ],
      [],
      [],
    );
    expect(result.findings.map((f) => [f.kind, f.key, 'reason' in f ? f.reason : ''])).toEqual([
      ['register', 'new.pem', 'never-registered'],
      ['register', 'changed.pem', 'changed'],
      ['register', 'gone.pem', 'missing-in-iot'],
    ]);
  });

  it('repairs an INACTIVE CA and a detached template', () => {
    const result = plan(
      ['a.pem', 'b.pem'],
      [receipt('a.pem', id(1)), receipt('b.pem', id(2))],
      [listed(id(1), 'INACTIVE'), listed(id(2))],
      [id(1)],
    );
    expect(result.findings).toEqual([
      expect.objectContaining({ kind: 'repair', key: 'a.pem', drift: ['status INACTIVE'] }),
      expect.objectContaining({ kind: 'repair', key: 'b.pem', drift: ['template not jitp'] }),
    ]);
  });

  it('leaves an upload younger than the grace period to the flow its own event started', () => {
    const recent = new Date(now.getTime() - 59 * 60_000);
    const result = plan(
      ['new.pem', 'changed.pem'],
      [receipt('changed.pem', id(2), { source: { bucket: 'b', key: 'changed.pem', etag: 'old' } })],
      [],
      [],
      recent,
    );
    expect(result.findings).toEqual([
      { kind: 'pending', key: 'new.pem', reason: 'never-registered' },
      { kind: 'pending', key: 'changed.pem', reason: 'changed' },
    ]);
    const older = new Date(now.getTime() - 61 * 60_000);
    expect(plan(['new.pem'], [], [], [], older).findings).toEqual([
      { kind: 'register', key: 'new.pem', etag: 'etag-new.pem', reason: 'never-registered' },
    ]);
  });

  const failure = (key: string, name: string, overrides: Partial<FailureReport> = {}): FailureReport => ({
    schema: RESULT_SCHEMA,
    outcome: 'FAILED',
    source: { bucket: 'b', key, etag: `etag-${key}` },
    error: { name, message: '', remedy: '', transient: false },
    finishedAt: '',
    ...overrides,
  });

  it('reports a failure on unchanged content without retrying it', () => {
    expect(plan(['bad.pem'], [failure('bad.pem', 'NotACaError')], [], []).findings).toEqual([
      { kind: 'failed', key: 'bad.pem', error: 'NotACaError' },
    ]);
  });

  it('runs a flow again that ended on throttling, a fault, a Lambda service error or a timeout, by its error name', () => {
    const names = [
      'ThrottledError',
      'ServiceFaultError',
      'Lambda.ServiceException',
      'Lambda.TooManyRequestsException',
      'States.Timeout',
      'Sandbox.Timedout',
    ];
    const keys = names.map((name) => `${name}.pem`);
    const result = plan(
      keys,
      names.map((name, i) => failure(keys[i] as string, name)),
      [],
      [],
    );
    expect(result.findings).toEqual(
      names.map((name, i) => ({ kind: 'retry', key: keys[i], etag: `etag-${keys[i]}`, error: name })),
    );
  });

  it('treats an unexpected error as final, not as transient', () => {
    expect(plan(['bug.pem'], [failure('bug.pem', 'TypeError')], [], []).findings).toEqual([
      { kind: 'failed', key: 'bug.pem', error: 'TypeError' },
    ]);
  });

  it('reports as an orphan the live CA a failure report remembers, once its object is gone', () => {
    const previous = {
      outcome: 'ACTIVE' as const,
      certificateId: id(4),
      certificateArn: `arn:cacert/${id(4)}`,
      source: { bucket: 'b', key: 'was.pem' },
      finishedAt: '',
    };
    const result = plan(
      [],
      [failure('was.pem', 'NotACaError', { previous }), failure('never.pem', 'NotACaError')],
      [listed(id(4))],
      [],
    );
    expect(result.findings).toEqual([{ kind: 'orphan', key: 'was.pem', certificateId: id(4), status: 'ACTIVE' }]);
  });

  it('reports orphans (receipt, CA, no object) and CAs expiring within the window', () => {
    const result = plan(
      ['soon.pem'],
      [receipt('soon.pem', id(1), { notAfter: '2026-12-08T00:00:00Z' }), receipt('deleted.pem', id(2))],
      [listed(id(1)), listed(id(2))],
      [id(1)],
    );
    expect(result.findings).toEqual([
      { kind: 'expiring', key: 'soon.pem', certificateId: id(1), notAfter: '2026-12-08T00:00:00Z', daysLeft: 10 },
      { kind: 'orphan', key: 'deleted.pem', certificateId: id(2), status: 'ACTIVE' },
    ]);
  });

  describe('a CA retired since its last result (retired receipt as new or newer, by the listings)', () => {
    const t = (second: number) => new Date(Date.UTC(2026, 10, 27, 0, 0, second));
    const retiredPlan = (
      objects: string[],
      results: ResultDocument[],
      cas: Array<[string, ListedCa]>,
      written: Record<string, Date>,
      retired: Record<string, Date>,
    ) =>
      planShallow({
        objects: objects.map((key) => ({ key, etag: `etag-${key}`, lastModified: new Date(0) })),
        results: new Map(results.map((result) => [result.source.key, result])),
        cas: new Map(cas),
        templateMembers: new Map([['jitp', new Set(cas.map(([certificateId]) => certificateId))]]),
        resultWritten: new Map(Object.entries(written)),
        retiredWritten: new Map(Object.entries(retired)),
        now,
        expiryWarningDays: 30,
        graceMinutes: 60,
      });

    it('is left alone: no repair, no re-registration of a deleted one, no orphan action, no deep check', () => {
      const result = retiredPlan(
        ['kept.pem', 'deleted.pem', 'tie.pem'],
        [
          receipt('kept.pem', id(1)),
          receipt('deleted.pem', id(2)),
          receipt('tie.pem', id(4)),
          receipt('gone.pem', id(3)),
        ],
        [listed(id(1), 'INACTIVE'), listed(id(3), 'INACTIVE'), listed(id(4), 'INACTIVE')],
        { 'kept.pem': t(1), 'deleted.pem': t(1), 'tie.pem': t(5), 'gone.pem': t(1) },
        { [id(1)]: t(2), [id(2)]: t(2), [id(3)]: t(2), [id(4)]: t(5) },
      );
      expect(result.findings).toEqual([
        { kind: 'retired', key: 'kept.pem', certificateId: id(1), status: 'INACTIVE', present: true },
        { kind: 'retired', key: 'deleted.pem', certificateId: id(2), status: 'DELETED', present: true },
        { kind: 'retired', key: 'tie.pem', certificateId: id(4), status: 'INACTIVE', present: true },
        { kind: 'retired', key: 'gone.pem', certificateId: id(3), status: 'INACTIVE', present: false },
      ]);
      expect(result.inSync).toEqual([]);
    });

    it('is live again after a newer result (re-upload), or when IoT shows it ACTIVE (a cancelled delete-after)', () => {
      const result = retiredPlan(
        ['reuploaded.pem', 'cancelled.pem'],
        [receipt('reuploaded.pem', id(1)), receipt('cancelled.pem', id(2)), receipt('gone.pem', id(3))],
        [listed(id(1), 'INACTIVE'), listed(id(2)), listed(id(3))],
        { 'reuploaded.pem': t(3), 'cancelled.pem': t(1), 'gone.pem': t(1) },
        { [id(1)]: t(2), [id(2)]: t(2), [id(3)]: t(2) },
      );
      expect(result.findings).toEqual([
        {
          kind: 'repair',
          key: 'reuploaded.pem',
          etag: 'etag-reuploaded.pem',
          certificateId: id(1),
          drift: ['status INACTIVE'],
        },
        { kind: 'orphan', key: 'gone.pem', certificateId: id(3), status: 'ACTIVE' },
      ]);
      expect(result.inSync.map((candidate) => candidate.key)).toEqual(['cancelled.pem']);
    });

    it("counts retire-ca's latest write per CA, its receipt or a claim (a failed retirement keeps its claim)", () => {
      const object = (key: string, at: Date) => ({ key: `results/retired/${key}`, etag: 'e', lastModified: at });
      const written = lastRetireWrites(
        [
          object(`${id(1)}.json`, t(1)),
          object(`claims/${id(1)}/${'a'.repeat(40)}.json`, t(3)),
          object(`claims/${id(1)}/${'b'.repeat(40)}.json`, t(2)),
          object(`claims/${id(2)}/${'c'.repeat(40)}.json`, t(4)),
          object(`${id(3)}.json`, t(5)),
          object(`claims/${id(3)}/${'d'.repeat(40)}.json`, t(1)),
        ],
        'results/',
      );
      expect(written).toEqual(
        new Map([
          [id(1), t(3)],
          [id(2), t(4)],
          [id(3), t(5)],
        ]),
      );
      // A CA deactivated by a retirement that failed before its receipt: left INACTIVE, not repaired.
      const result = retiredPlan(
        ['claimed.pem'],
        [receipt('claimed.pem', id(2))],
        [listed(id(2), 'INACTIVE')],
        { 'claimed.pem': t(1) },
        Object.fromEntries(written),
      );
      expect(result.findings).toEqual([
        { kind: 'retired', key: 'claimed.pem', certificateId: id(2), status: 'INACTIVE', present: true },
      ]);
    });
  });
});

describe('deepDrift', () => {
  const candidate: DeepCandidate = {
    key: 'a.pem',
    etag: 'e',
    certificateId: id(1),
    certificateArn: 'arn',
    certificateMode: 'DEFAULT',
    templateName: 'jitp',
    tags: { team: 'x' },
  };
  const good = {
    status: 'ACTIVE',
    autoRegistrationStatus: 'ENABLE',
    certificateMode: 'DEFAULT',
    templateName: 'jitp',
    tags: { team: 'x', 'aws:cloudformation:stack': 's' },
  };

  it('finds nothing on a converged CA (AWS-reserved tags aside)', () => {
    expect(deepDrift(candidate, good)).toEqual([]);
  });

  it('names each drift kind', () => {
    expect(deepDrift(candidate, { ...good, autoRegistrationStatus: 'DISABLE' })).toEqual(['auto-registration off']);
    expect(deepDrift(candidate, { ...good, certificateMode: 'SNI_ONLY' })).toEqual(['mode SNI_ONLY, wanted DEFAULT']);
    expect(deepDrift(candidate, { ...good, tags: { team: 'y' } })).toEqual(['tags differ']);
    expect(deepDrift(candidate, { ...good, tags: {} })).toEqual(['tags differ']);
  });
});

describe('repairExecutionName', () => {
  it('is the same within a window, differs across windows and desired states, and is a valid execution name', () => {
    const name = repairExecutionName('incoming/a.pem', 'e', 'status INACTIVE', 100);
    expect(repairExecutionName('incoming/a.pem', 'e', 'status INACTIVE', 100)).toBe(name);
    expect(repairExecutionName('incoming/a.pem', 'e', 'status INACTIVE', 101)).not.toBe(name);
    expect(repairExecutionName('incoming/a.pem', 'e', 'tags differ', 100)).not.toBe(name);
    expect(name).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
  });
});

describe('the results snapshot', () => {
  const failureReport = (key: string, name: string, extra: Record<string, unknown> = {}) => ({
    schema: RESULT_SCHEMA,
    outcome: 'FAILED',
    source: { bucket: 'b', key, etag: `etag-${key}` },
    error: { name, message: 'm', remedy: 'r', transient: false },
    finishedAt: '',
    ...extra,
  });
  const previous = {
    outcome: 'ACTIVE',
    certificateId: id(4),
    certificateArn: 'arn',
    source: { bucket: 'b', key: 'x' },
  };
  const documents = [
    receipt('a.pem', id(1)),
    receipt('inactive.pem', id(2)),
    receipt('soon.pem', id(3), { notAfter: '2026-12-08T00:00:00Z' }),
    failureReport('bad.pem', 'NotACaError'),
    failureReport('throttled.pem', 'ThrottledError'),
    failureReport('was.pem', 'NotACaError', { previous }),
    receipt('deleted.pem', id(5)),
  ];
  const summaries = documents.map((document) => summarizeResult(document));

  it('keeps what the plan reads of a receipt or a failure report, and nothing else', () => {
    expect(summaries[0]).toEqual({
      outcome: 'ACTIVE',
      source: { key: 'a.pem', etag: 'etag-a.pem' },
      certificateId: id(1),
      certificateMode: 'DEFAULT',
      templateName: 'jitp',
      tags: { team: 'x' },
      notAfter: '2027-11-28T00:00:00Z',
    });
    expect(summaries[5]).toEqual({
      outcome: 'FAILED',
      source: { key: 'was.pem', etag: 'etag-was.pem' },
      error: { name: 'NotACaError' },
      previous: { certificateId: id(4) },
    });
  });

  it('the plan makes the same of the summaries as of the documents', () => {
    const keys = ['a.pem', 'inactive.pem', 'soon.pem', 'bad.pem', 'throttled.pem', 'new.pem'];
    const cas = [listed(id(1)), listed(id(2), 'INACTIVE'), listed(id(3)), listed(id(4)), listed(id(5))];
    const input = (results: Map<string, ResultDocument> | ReturnType<typeof resultsBySource>) => ({
      objects: keys.map((key) => ({ key, etag: `etag-${key}`, lastModified: new Date(0) })),
      results,
      cas: new Map(cas),
      templateMembers: new Map([['jitp', new Set([id(1), id(2), id(3)])]]),
      now,
      expiryWarningDays: 30,
      graceMinutes: 60,
    });
    const fromDocuments = planShallow(input(new Map(documents.map((d) => [d.source.key, d as ResultDocument]))));
    const snapshot = nextSnapshot(
      documents.map((d) => ({ key: `results/${d.source.key}.json`, etag: `r-${d.source.key}` })),
      undefined,
      new Map(
        documents.map((d, i) => [
          `results/${d.source.key}.json`,
          { etag: `r-${d.source.key}`, result: summaries[i] ?? null },
        ]),
      ),
    ).snapshot;
    const fromSnapshot = planShallow(input(resultsBySource(parseSnapshot(JSON.parse(JSON.stringify(snapshot)))!)));
    expect(fromSnapshot).toEqual(fromDocuments);
    expect(fromDocuments.findings.map((finding) => finding.kind).sort()).toEqual([
      'expiring',
      'failed',
      'orphan',
      'orphan',
      'register',
      'repair',
      'retry',
    ]);
  });

  it('reads leniently what older reports left out, and refuses what is no result', () => {
    expect(summarizeResult({ outcome: 'FAILED', source: { key: 'k' } })).toEqual({
      outcome: 'FAILED',
      source: { key: 'k' },
      error: { name: 'UnknownError' },
    });
    expect(
      summarizeResult({ outcome: 'FAILED', source: { key: 'k', etag: 'e' }, error: { name: 'ThrottledError' } }),
    ).toMatchObject({ error: { name: 'ThrottledError' } });
    for (const notAResult of [
      null,
      [],
      'text',
      {},
      { source: {} },
      { outcome: 'ACTIVE' },
      { outcome: 'RETIRED', source: { key: 'k' } },
    ])
      expect(summarizeResult(notAResult)).toBeUndefined();
  });

  const listedResults = (entries: Array<[string, string]>): ListedObject[] =>
    entries.map(([key, etag]) => ({ key, etag }));
  const entry = (key: string, etag: string): SnapshotEntry => ({
    etag,
    result: summarizeResult(receipt(key, id(1))) ?? null,
  });
  const snapshotOf = (entries: Array<[string, SnapshotEntry]>): ResultSnapshot => ({
    schema: SNAPSHOT_SCHEMA,
    results: Object.fromEntries(entries),
  });
  const known = snapshotOf([
    ['results/a.pem.json', entry('a.pem', 'ra')],
    ['results/b.pem.json', entry('b.pem', 'rb')],
  ]);

  it('reads nothing when every listed ETag matches, and only what is new or replaced otherwise', () => {
    const same = listedResults([
      ['results/a.pem.json', 'ra'],
      ['results/b.pem.json', 'rb'],
    ]);
    expect(resultsToRead(same, known)).toEqual([]);
    expect(nextSnapshot(same, known, new Map())).toEqual({ snapshot: known, changed: false });
    const moved = listedResults([
      ['results/a.pem.json', 'ra'],
      ['results/b.pem.json', 'rb2'],
      ['results/c.pem.json', 'rc'],
    ]);
    expect(resultsToRead(moved, known).map((object) => object.key)).toEqual([
      'results/b.pem.json',
      'results/c.pem.json',
    ]);
    expect(resultsToRead(moved, undefined)).toEqual(moved);
  });

  it('takes what was read under its own ETag, drops deleted results, and keeps a non-result as null', () => {
    const listing = listedResults([
      ['results/b.pem.json', 'rb2'],
      ['results/notes.json', 'rn'],
    ]);
    // b was replaced again between the listing and the read: the entry names what was read.
    const read = new Map<string, SnapshotEntry>([
      ['results/b.pem.json', entry('b.pem', 'rb3')],
      ['results/notes.json', { etag: 'rn', result: null }],
    ]);
    const { snapshot, changed } = nextSnapshot(listing, known, read);
    expect(changed).toBe(true);
    expect(snapshot.results).toEqual({
      'results/b.pem.json': entry('b.pem', 'rb3'),
      'results/notes.json': { etag: 'rn', result: null },
    });
    expect([...resultsBySource(snapshot).keys()]).toEqual(['b.pem']);
    // A receipt deleted, nothing read: still a change, so the snapshot forgets it.
    expect(nextSnapshot(listedResults([['results/a.pem.json', 'ra']]), known, new Map())).toEqual({
      snapshot: snapshotOf([['results/a.pem.json', entry('a.pem', 'ra')]]),
      changed: true,
    });
    // A result whose read found it deleted since the listing is left out, not kept stale.
    expect(nextSnapshot(listedResults([['results/a.pem.json', 'ra2']]), known, new Map()).snapshot.results).toEqual({});
  });

  it('accepts only a snapshot this code wrote: anything else is rebuilt', () => {
    expect(parseSnapshot(JSON.parse(JSON.stringify(known)))).toEqual(known);
    for (const bad of [
      undefined,
      null,
      {},
      { ...known, schema: 'iot-ca-pipeline/reconcile-snapshot@0' },
      { schema: SNAPSHOT_SCHEMA },
      { schema: SNAPSHOT_SCHEMA, results: { k: { etag: 'e' } } },
      { schema: SNAPSHOT_SCHEMA, results: { k: { etag: 1, result: null } } },
      { schema: SNAPSHOT_SCHEMA, results: { k: { etag: 'e', result: { outcome: 'ACTIVE', source: { key: 'k' } } } } },
    ])
      expect(parseSnapshot(bad)).toBeUndefined();
  });
});
