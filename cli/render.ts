/**
 * What the commands print for people: every text a command shows for its result (tables, summary
 * lines, step lines) comes from here. Commands compute plain data and pass it in; with --json they
 * print that data instead (output.ts), so nothing here changes a JSON document.
 */
import type { ProvisionedPolicy, TemplateCheck, TemplateEvaluation } from '../functions/core/jitp-template.ts';
import type { FailureReport, Receipt } from '../functions/core/results.ts';
import { resultKeyFor } from '../functions/core/source.ts';
import type { ReconcileReport } from '../functions/reconcile-report.ts';
import type { CaView, FileView } from './cas.ts';
import type { Followed } from './flow.ts';
import type { ExecutionOutcome, Step } from './follow.ts';
import { table } from './output.ts';

// ---- shared pieces ----

/** An execution's name, the last part of its ARN: what people are shown of it. */
export const shortId = (executionArn: string): string => executionArn.split(':').at(-1) ?? '';

/** The command line that reaches the same stack again (`iot-ca --local …` after a --local command). */
export const commandLine = (local: boolean | undefined, rest: string): string =>
  `iot-ca${local ? ' --local' : ''} ${rest}`;

const stepMark = (outcome: Step['outcome']): string => (outcome === 'ok' ? '✓' : outcome === 'retried' ? '↻' : '✗');

/** One state of an execution: mark, name, duration and error. Followed flows, `result` and `up`'s log print it. */
const stepText = (step: Step): string =>
  `${stepMark(step.outcome)} ${step.name.padEnd(20)} ${String(step.ms).padStart(6)} ms${step.error ? `  ${step.error}${step.outcome === 'retried' ? ' (retried)' : ''}` : ''}`;

/** A step under the execution it belongs to. */
export const stepLine = (step: Step): string => `  ${stepText(step)}`;

const warningLines = (warnings: string[]): string[] => warnings.map((warning) => `  warning: ${warning}`);

const whatToDo = (remedy: string): string => `  what to do: ${remedy}`;

/** What to do about a failure report, and the CA that stays live when it replaced a receipt. */
const remedyLines = (report: FailureReport): string[] => [
  whatToDo(report.error.remedy),
  ...(report.previous
    ? [`  still live: CA ${report.previous.certificateId}, as the receipt this report replaced left it`]
    : []),
];

const modeLine = (receipt: Receipt, adopted: string): string =>
  `  mode ${receipt.certificateMode}, template ${receipt.templateName}${receipt.adopted ? `, ${adopted}` : ''}`;

/** Files and their outcomes, one row each: `list --all` and `drop --wait` on many files. */
const outcomeTable = (rows: Array<{ file: string; outcome: string; detail: string }>): string =>
  table([['FILE', 'OUTCOME', 'CERTIFICATE ID / ERROR'], ...rows.map((row) => [row.file, row.outcome, row.detail])]);

// ---- a followed flow (drop --wait, run, demo) ----

export const followedText = (resultsPrefix: string, followed: Followed): string => {
  const { result, execution } = followed;
  if (result?.outcome === 'ACTIVE' && followed.active) {
    return [
      `ACTIVE  ${result.certificateId}`,
      modeLine(result, 'adopted (already registered)'),
      `  receipt s3://${result.source.bucket}/${resultKeyFor(followed.key, resultsPrefix)}`,
      ...warningLines(result.warnings),
    ].join('\n');
  }
  if (result?.outcome === 'FAILED') {
    return [
      `FAILED  ${result.error.name}: ${result.error.message}`,
      ...remedyLines(result),
      `  report s3://${result.source.bucket}/${resultKeyFor(followed.key, resultsPrefix)}`,
    ].join('\n');
  }
  return `FAILED  ${execution.error ?? execution.status}: ${execution.cause ?? 'no result was written'}`;
};

export const demoText = (resultsPrefix: string, followed: Followed[]): string =>
  followed.map((each) => `${each.key}\n${followedText(resultsPrefix, each)}`).join('\n\n');

// ---- check ----

export interface CheckVerdict {
  certificateId: string;
  certificateMode: string;
  subject: string;
  key: string;
  signatureAlgorithm: string;
  notAfter: string;
  daysLeft: number;
  verification: string;
  /** With `check --signer` and no verification certificate: who signs the one the pipeline makes. */
  signer?: string;
  warnings: string[];
}

export const checkPassText = (verdict: CheckVerdict): string =>
  [
    `PASS  ${verdict.certificateId}`,
    `  subject   ${verdict.subject}`,
    `  key       ${verdict.key}, ${verdict.signatureAlgorithm}`,
    `  notAfter  ${verdict.notAfter} (${verdict.daysLeft} days)`,
    verdict.signer
      ? `  mode      ${verdict.certificateMode}, verification made by the pipeline, signed by ${verdict.signer}`
      : `  mode      ${verdict.certificateMode}, verification ${verdict.verification}`,
    ...warningLines(verdict.warnings),
  ].join('\n');

export const checkFailText = (error: { name: string; message: string; remedy: string }): string =>
  `FAIL  ${error.name}: ${error.message}\n${whatToDo(error.remedy)}`;

// ---- check-template ----

export type TemplateVerdict = { template: { source: 'file' | 'deployed' | 'local'; reference: string } } & (
  | (TemplateEvaluation & { remedy?: string })
  | ({ outcome: 'VALID' } & TemplateCheck)
);

const policyLine = (policy: ProvisionedPolicy): string =>
  policy.policyName !== undefined
    ? `  policy       ${policy.policyName}`
    : `  policy       inline document (named by AWS after its hash): ${JSON.stringify(policy.policyDocument)}`;

/** What JITP would make of a device (or of no device: the template alone), for people. */
export const checkTemplateText = (verdict: TemplateVerdict): string => {
  const name = `template ${verdict.template.reference}`;
  switch (verdict.outcome) {
    case 'VALID':
      return [
        `VALID  ${name} meets AWS's JITP rules`,
        `  parameters   ${verdict.parameters.join(', ') || '-'}`,
        '  (add --device <device.pem> to see what a device would get)',
        ...warningLines(verdict.warnings),
      ].join('\n');
    case 'INVALID_TEMPLATE':
      return [
        `INVALID  ${name} breaks AWS's JITP rules (${verdict.problems.length} problem${verdict.problems.length === 1 ? '' : 's'}); no device would be provisioned`,
        ...verdict.problems.map((problem) => `  ✗ ${problem.path ? `${problem.path}: ` : ''}${problem.message}`),
        ...warningLines(verdict.warnings),
        ...(verdict.remedy ? [whatToDo(verdict.remedy)] : []),
      ].join('\n');
    case 'MISSING_PARAMETER':
      return [
        `MISSING  the device certificate (${verdict.deviceSubject}) lacks what ${name} needs; JITP would fail for it`,
        ...verdict.missing.map((m) => `  ✗ ${m.parameter}: no ${m.attribute} in the subject`),
        ...warningLines(verdict.warnings),
        whatToDo(
          `issue the device certificates with ${verdict.missing.map((m) => m.attribute).join(', ')} in their subject, or give the template's parameter a Default.`,
        ),
      ].join('\n');
    case 'INVALID_VALUE':
      return [
        `REFUSED  for the device certificate (${verdict.deviceSubject}), ${name} computes a value AWS IoT refuses`,
        `  ✗ ${verdict.path}: ${verdict.message}`,
        ...warningLines(verdict.warnings),
      ].join('\n');
    case 'PROVISIONED': {
      const thing = verdict.thing;
      return [
        `PROVISIONED  the device certificate (${verdict.deviceSubject}) would be provisioned by ${name}`,
        ...(thing
          ? [
              `  thing        ${thing.thingName}`,
              `  attributes   ${
                Object.entries(thing.attributes)
                  .map(([k, v]) => `${k}=${v}`)
                  .join(', ') || '-'
              }`,
              ...(thing.thingTypeName ? [`  thing type   ${thing.thingTypeName}`] : []),
              `  groups       ${thing.thingGroups.join(', ') || '-'}`,
              ...(thing.billingGroup ? [`  billing      ${thing.billingGroup}`] : []),
            ]
          : ['  thing        (none: the template declares no Thing)']),
        `  certificate  ${verdict.certificateStatus} (id ${verdict.certificateId})`,
        ...(verdict.policies.length > 0 ? verdict.policies.map(policyLine) : ['  policy       (none)']),
        ...warningLines(verdict.warnings),
      ].join('\n');
    }
  }
};

// ---- reconcile ----

export const reconcileText = (report: ReconcileReport, findings: Array<Record<string, unknown>>): string =>
  [
    Object.entries(report.counts)
      .map(([name, value]) => `${name} ${value}`)
      .join(', '),
    `IoT calls: ${report.iotCallsTotal} (${
      Object.entries(report.iotCalls)
        .map(([op, n]) => `${op} ${n}`)
        .join(', ') || 'none'
    })`,
    // Pending announcements register-ca could not publish, published by this run (docs/adr/0030).
    ...(report.announced ? [`announced: ${report.announced} pending CA Registered / CA Drift Repaired`] : []),
    ...findings.map(
      (finding) =>
        `  ${String(finding.kind).padEnd(9)} ${String(finding.key)}  ${finding.drift ? (finding.drift as string[]).join('; ') : (finding.reason ?? finding.error ?? (finding.daysLeft !== undefined ? `${finding.daysLeft} days left` : ''))}${finding.outcome ? ` (${String(finding.outcome)})` : ''}`,
    ),
  ].join('\n');

// ---- list / status ----

export const casText = (views: CaView[]): string =>
  views.length === 0
    ? 'no CA certificates registered'
    : table([
        ['CERTIFICATE ID', 'STATUS', 'MODE', 'TEMPLATE', 'EXPIRES', 'SOURCE'],
        ...views.map((v) => [
          v.certificateId.slice(0, 16),
          v.status,
          v.certificateMode,
          v.templateName ?? '-',
          v.daysToExpiry === null ? '-' : `${v.daysToExpiry}d`,
          v.source ?? '-',
        ]),
      ]);

export const filesText = (files: FileView[], incomingPrefix: string): string =>
  files.length === 0
    ? `no files under ${incomingPrefix}`
    : outcomeTable(
        files.map((f) => ({
          file: f.key,
          outcome: f.outcome,
          detail: f.outcome === 'FAILED' ? (f.error?.name ?? '') : (f.certificateId ?? '-').slice(0, 16),
        })),
      );

export const statusText = (view: CaView): string =>
  [
    `${view.certificateId}`,
    `  status            ${view.status} (auto-registration ${view.autoRegistration})`,
    `  mode              ${view.certificateMode}`,
    `  template          ${view.templateName ?? '-'}`,
    `  expires           ${view.notAfter ?? '-'} (${view.daysToExpiry ?? '?'} days)`,
    `  source            ${view.source ?? '-'}`,
    `  tags              ${
      Object.entries(view.tags)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ') || '-'
    }`,
  ].join('\n');

// ---- result ----

export interface ResultView {
  key: string;
  bucket: string;
  resultKey: string;
  outcome: string;
  written: Receipt | FailureReport | undefined;
  executionArn: string | undefined;
  execution: ExecutionOutcome | undefined;
}

export const resultText = ({ key, bucket, resultKey, outcome, written, executionArn, execution }: ResultView): string =>
  [
    `${key}  ${outcome}${written?.outcome === 'ACTIVE' ? `  ${written.certificateId}` : ''}`,
    ...(written
      ? [
          `  ${written.outcome === 'ACTIVE' ? 'receipt' : 'report '}   s3://${bucket}/${resultKey} (finished ${written.finishedAt})`,
          ...(written.outcome === 'FAILED'
            ? [`  error     ${written.error.name}: ${written.error.message}`, ...remedyLines(written)]
            : [modeLine(written, 'adopted'), ...warningLines(written.warnings)]),
        ]
      : []),
    executionArn
      ? `  execution ${shortId(executionArn)}  ${execution ? execution.status : '(no longer known: the local stack that ran it has stopped)'}`
      : '  execution (not recorded)',
    ...(execution?.steps.map(stepLine) ?? []),
    ...(execution?.status === 'RUNNING' && written
      ? [`  (the result above is from an earlier run; this one is still running)`]
      : []),
  ].join('\n');

// ---- drop ----

export interface PlanView {
  key: string;
  certificateId: string;
  registered: boolean;
  status?: string;
  changes: string[];
  /** Set when the drop cannot succeed on this CA (a mode conflict): the CA stays as it is. */
  conflict?: string;
}

export const planText = (plan: PlanView): string => {
  if (!plan.registered) return `plan ${plan.key}: a new CA ${plan.certificateId.slice(0, 16)} will be registered`;
  const head = `plan ${plan.key}: CA ${plan.certificateId.slice(0, 16)} is already registered (${plan.status})`;
  if (plan.conflict) return `${head}\n  ! ${plan.conflict}`;
  if (plan.changes.length === 0) return `${head}; in sync, nothing will change`;
  return `${head}; this drop will change:\n${plan.changes.map((change) => `  ${change}`).join('\n')}`;
};

/** --dry-run: each file's plan, or why the pipeline will judge it instead. */
export const dryRunText = (items: Array<{ file: string; key: string; plan: PlanView | null }>): string =>
  items
    .map((item) =>
      item.plan
        ? planText(item.plan)
        : `plan ${item.key}: the pipeline will judge it (it does not pass the offline pre-flight: iot-ca check ${item.file})`,
    )
    .join('\n');

/** Without --wait: where each file went, its execution, and the command that shows its outcome later. */
export const uploadedText = (
  bucket: string,
  local: boolean | undefined,
  rows: Array<{ key: string; executionArn: string | null; resultKey: string }>,
): string =>
  rows
    .map(
      (row) =>
        `uploaded s3://${bucket}/${row.key}\n  execution ${row.executionArn ? shortId(row.executionArn) : '(not started yet)'}\n  outcome: ${commandLine(local, `result ${row.key}`)}  (written to s3://${bucket}/${row.resultKey})`,
    )
    .join('\n');

export interface DropOutcomeView {
  file: string;
  outcome: string;
  certificateId?: string;
  error?: { name: string };
}

/** A file's outcome as it ends, in a bulk drop's progress. */
export const dropOutcomeLine = (o: DropOutcomeView): string =>
  `${o.outcome === 'ACTIVE' ? '✔' : '✖'} ${o.file}  ${o.outcome}  ${o.error ? o.error.name : (o.certificateId ?? '').slice(0, 16)}`;

export const dropCountLine = (done: number, total: number, counts: { ACTIVE: number; FAILED: number }): string =>
  `${done}/${total} done: ${counts.ACTIVE} ACTIVE, ${counts.FAILED} FAILED`;

/** --wait on many: one row per file, then the counts (and where the details are). */
export const dropSummaryText = (
  outcomes: DropOutcomeView[],
  summary: { total: number; active: number; failed: number },
  local: boolean | undefined,
): string =>
  `${outcomeTable(outcomes.map((o) => ({ file: o.file, outcome: o.outcome, detail: o.outcome === 'ACTIVE' ? (o.certificateId ?? '') : `${o.error?.name ?? ''}${o.certificateId ? ` (${o.certificateId.slice(0, 16)})` : ''}` })))}\n${summary.total} files: ${summary.active} ACTIVE, ${summary.failed} not ACTIVE${summary.failed ? ` (details: ${commandLine(local, 'result <key>')})` : ''}`;

// ---- up / down ----

export interface ReadyView {
  stateDir: string;
  pid: number;
  endpoints: {
    s3: string;
    iot: string;
    sfn: string;
    mqtt?: { url: string; servername: string; caFile: string };
    kms?: string;
    pca?: string;
  };
  bucket: string;
  incomingPrefix: string;
  stateMachineArn: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  schedules: Array<{ name: string; input: unknown; everyMs: number }>;
  iam: boolean;
}

export const readyText = (v: ReadyView): string =>
  [
    `iot-ca local stack ready (state in ${v.stateDir}, pid ${v.pid})`,
    `  s3   ${v.endpoints.s3}   bucket ${v.bucket}, drop CAs under ${v.incomingPrefix}`,
    `       credentials ${v.credentials.accessKeyId} / ${v.credentials.secretAccessKey}: AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER aws --endpoint-url ${v.endpoints.s3} s3 ls s3://${v.bucket}/`,
    `  iot  ${v.endpoints.iot}`,
    `  sfn  ${v.endpoints.sfn}   ${v.stateMachineArn}`,
    ...(v.endpoints.mqtt
      ? [
          `  mqtt ${v.endpoints.mqtt.url}   devices: SNI ${v.endpoints.mqtt.servername}, trust ${v.endpoints.mqtt.caFile}`,
        ]
      : []),
    ...(v.endpoints.kms ? [`  kms  ${v.endpoints.kms}   keys held in memory: gone when this stack stops`] : []),
    ...(v.endpoints.pca ? [`  pca  ${v.endpoints.pca}   Private CA; its CAs' keys in memory too`] : []),
    ...v.schedules.map(
      (rule) => `  schedule ${rule.name}: reconcile ${JSON.stringify(rule.input)} every ${rule.everyMs / 60_000} min`,
    ),
    v.iam
      ? "  iam  each function's role from serverless.yml is enforced (--no-iam to turn off)"
      : '  iam  off (--no-iam): every call is allowed',
    'Ctrl-C (or iot-ca down) to stop.',
  ].join('\n');

/** `up`'s log of an execution: each line starts with the execution's first 8 characters. */
export const upLog = {
  started: (id: string, what: string): string => `▶ ${id}  ${what}`,
  retried: (id: string, state: string | undefined, error: string | undefined): string =>
    `${id}  ↻ ${state} retried${error ? ` after ${error}` : ''}`,
  step: (id: string, step: Step): string => `${id}  ${stepText(step)}`,
  succeeded: (id: string, what: string): string => `✔ ${id}  ${what}`,
  failed: (id: string, error: string | undefined, key: string | undefined): string =>
    `✖ ${id}  FAILED ${error ?? ''}${key !== undefined ? `  ${key}` : ''}`,
  denied: (denial: { principal: string; action: string; resource: string }): string =>
    `⛔ denied ${denial.action} on ${denial.resource} to ${denial.principal}`,
  iot: (event: { type: string; message: string }): string =>
    `${/Error|Throttled/.test(event.type) ? '✗' : '◆'} iot ${event.type}: ${event.message}`,
};

export const downText = (stateDir: string, pid: number | undefined): string =>
  pid === undefined ? `no iot-ca up is running on ${stateDir}` : `stopped iot-ca up (pid ${pid}) on ${stateDir}`;

/** `device connect`: each step with its timing, then what JITP made of the device. */
export const deviceText = (
  thingName: string,
  certificateId: string,
  smoke: {
    connected: boolean;
    attempts: number;
    steps: Array<{ step: string; ms: number; ok: boolean; detail?: string }>;
  },
  provisioned: { certificateStatus: string | null; thing: { thingName: string } | null; policies: string[] },
): string =>
  [
    ...smoke.steps.map((step, index) => {
      // A connection closed before a later one held is JITP at work, not a failure.
      const retried = !step.ok && smoke.steps.slice(index + 1).some((later) => later.ok && /^connect/.test(later.step));
      const mark = step.ok ? '✔' : retried ? '↻' : '✗';
      const width = Math.max(...smoke.steps.map((each) => each.step.length));
      return `${mark} ${step.step.padEnd(width)}  ${String(step.ms).padStart(6)} ms${step.detail ? `  ${step.detail}` : ''}`;
    }),
    `device       ${thingName}`,
    `certificate  ${certificateId}  ${provisioned.certificateStatus ?? 'not registered'}`,
    `thing        ${provisioned.thing?.thingName ?? 'none'}`,
    `policies     ${provisioned.policies.join(', ') || 'none'}`,
    smoke.connected
      ? `CONNECTED after ${smoke.attempts} attempt(s): JITP provisioned the device`
      : `NOT CONNECTED after ${smoke.attempts} attempt(s)`,
  ].join('\n');

// ---- the CA lifecycle: events, retire, rotate ----

/** One of the pipeline's events as EventBridge delivers it (and CloudWatch Logs and the local file keep it). */
export interface EventEnvelope {
  version?: string;
  id: string;
  'detail-type': string;
  source: string;
  account?: string;
  time: string;
  region?: string;
  resources?: string[];
  detail: Record<string, unknown>;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value ? value : undefined);
const short = (id: unknown): string => (text(id) ?? '-').slice(0, 16);

/** `n ACTIVE, m REVOKED` from a `byStatus` count, largest first. */
const byStatusText = (byStatus: Record<string, number> | undefined): string =>
  Object.entries(byStatus ?? {})
    .filter(([, count]) => count > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([status, count]) => `${status} ${count}`)
    .join(', ');

/** What matters of an event beside its type and CA, from the fields its schema gives it. */
const eventEssentials = (type: string, d: Record<string, unknown>): string => {
  const source = d.source as { key?: string } | undefined;
  const parts: string[] = [];
  switch (type) {
    case 'CA Registered':
    case 'CA Drift Repaired':
      if (Array.isArray(d.drift) && d.drift.length > 0) parts.push(`repaired: ${d.drift.join('; ')}`);
      if (text(d.certificateMode)) parts.push(String(d.certificateMode));
      if (text(d.templateName)) parts.push(`template ${d.templateName}`);
      if (d.adopted === true) parts.push('adopted');
      if (text(d.replaces)) parts.push(`replaces ${short(d.replaces)}`);
      break;
    case 'CA Registration Failed': {
      const error = d.error as { name?: string; message?: string } | undefined;
      parts.push(`${error?.name ?? 'error'}${error?.message ? `: ${error.message}` : ''}`);
      break;
    }
    case 'CA Expiring':
      parts.push(`${d.daysLeft} days left (notAfter ${d.notAfter}, warns at ${d.thresholdDays})`);
      break;
    case 'CA Retired': {
      const devices = d.deviceCertificates as { total?: number; byStatus?: Record<string, number> } | undefined;
      parts.push(`${d.outcome ?? 'retired'} (${d.policy ?? 'deactivate'}), reason ${d.reason ?? '-'}`);
      if (devices)
        parts.push(
          `${devices.total ?? 0} device certificates${devices.total ? `: ${byStatusText(devices.byStatus)}` : ''}`,
        );
      if (text(d.replacedBy)) parts.push(`replaced by ${short(d.replacedBy)}`);
      break;
    }
    default:
  }
  if (source?.key) parts.push(source.key);
  return parts.join(', ');
};

/** One event, one line: time, detail-type, the CA's short id, the essentials. `events` and `up` print it. */
export const eventLine = (event: EventEnvelope): string =>
  `${event.time}  ${event['detail-type'].padEnd(22)} ${short(event.detail.certificateId).padEnd(16)}  ${eventEssentials(event['detail-type'], event.detail)}`;

/** `up`'s line for a pipeline event as it is put on the bus. */
export const upEventLine = (event: EventEnvelope): string => `★ ${eventLine(event)}`;

/** A retired receipt (results/retired/<id>.json) as the CLI shows it; fields beyond these are kept in --json. */
export interface RetiredView {
  certificateId: string;
  outcome: string;
  reason?: string;
  policy?: string;
  deviceCertificates?: { total: number; byStatus: Record<string, number> };
  /** How many device certificates this retirement revoked (a count, or the step's own summary). */
  revoked?: number | { revoked?: number; count?: number; total?: number };
  deleteAfter?: string;
  replacedBy?: string;
  finishedAt?: string;
}

const revokedCount = (revoked: RetiredView['revoked']): number | undefined =>
  typeof revoked === 'number' ? revoked : (revoked?.revoked ?? revoked?.count ?? revoked?.total);

/** The outcome of `retire`: what IoT holds now, the device certificates, and what happens next. */
export const retiredText = (
  view: RetiredView,
  where: {
    bucket: string;
    receiptKey: string;
    local: boolean | undefined;
    pending: boolean;
    /** The CA's object, when it is still in the bucket: the bucket still asks for the CA. */
    objectStillThere?: { bucket: string; key: string } | undefined;
  },
): string => {
  const devices = view.deviceCertificates ?? { total: 0, byStatus: {} };
  const active = devices.byStatus.ACTIVE ?? 0;
  const revoked = revokedCount(view.revoked);
  const deleted = view.outcome === 'deleted';
  const next: string[] = [];
  if (deleted) next.push('the CA was deleted from AWS IoT (DeleteCACertificate)');
  else if (view.deleteAfter)
    next.push(`deleted at ${view.deleteAfter} unless its file is uploaded again before then (that cancels the delete)`);
  if (revoked !== undefined) next.push(`${revoked} device certificate${revoked === 1 ? '' : 's'} revoked`);
  else if (active > 0)
    next.push(
      `its ${active} ACTIVE device certificate${active === 1 ? '' : 's'} keep connecting until revoked: ${commandLine(where.local, `retire ${view.certificateId} --revoke-devices`)}`,
    );
  if (next.length === 0) next.push('nothing more: the CA stays registered, INACTIVE');
  return [
    `${view.outcome.toUpperCase()}  ${view.certificateId}`,
    `  reason     ${view.reason ?? '-'}${view.replacedBy ? `, replaced by ${view.replacedBy}` : ''} (policy ${view.policy ?? 'deactivate'})`,
    deleted
      ? '  status     deleted'
      : '  status     INACTIVE, auto-registration DISABLE: no new device can provision through it',
    `  devices    ${devices.total} device certificate${devices.total === 1 ? '' : 's'}${devices.total ? `: ${byStatusText(devices.byStatus)}` : ''}`,
    ...next.map((line, index) => `  ${index === 0 ? 'next      ' : '          '} ${line}`),
    `  receipt    s3://${where.bucket}/${where.receiptKey}`,
    ...(where.pending ? ['  (retire-ca keeps running until then; this receipt follows it)'] : []),
    ...(where.objectStillThere
      ? [
          `  warning: s3://${where.objectStillThere.bucket}/${where.objectStillThere.key} is still in the bucket: reconciliation leaves the retired CA alone, but uploading that file again registers it again (and cancels a pending delete-after). Delete the object if the CA should stay retired.`,
        ]
      : []),
  ].join('\n');
};

export interface RotationView {
  old: { certificateId: string; receiptKey: string };
  new: { certificateId: string; key: string; receiptKey: string };
  smoke: { thingName: string; connected: boolean } | null;
  retire: { executionArn: string; graceSeconds: number; deactivateAt: string };
}

/** A grace period in the largest unit that keeps it whole enough to read: days, hours, minutes or seconds. */
export const graceText = (seconds: number): string => {
  const [unit, size] =
    seconds >= 86_400
      ? ['day', 86_400]
      : seconds >= 3_600
        ? ['hour', 3_600]
        : seconds >= 60
          ? ['minute', 60]
          : ['second', 1];
  const count = Number((seconds / (size as number)).toFixed(1));
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
};

/** `rotate`: both CAs, the new receipt, the smoke test, and when the old one goes. */
export const rotationText = (v: RotationView, bucket: string): string =>
  [
    `ROTATED  ${v.old.certificateId}`,
    `     ->  ${v.new.certificateId}  ACTIVE`,
    `  new receipt  s3://${bucket}/${v.new.receiptKey} (replaces ${v.old.certificateId.slice(0, 16)})`,
    ...(v.smoke ? [`  smoke test   device ${v.smoke.thingName} provisioned through JITP and connected`] : []),
    v.retire.graceSeconds > 0
      ? `  old CA       stays ACTIVE until ${v.retire.deactivateAt} (grace ${graceText(v.retire.graceSeconds)}), then retire-ca deactivates it`
      : '  old CA       being deactivated now (no grace period)',
    `  retire-ca    execution ${shortId(v.retire.executionArn)}; receipt s3://${bucket}/${v.old.receiptKey} (replacedBy the new CA)`,
  ].join('\n');
