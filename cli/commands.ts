/** The `iot-ca` commands (contract: shared/ARCHITECTURE.md "The iot-ca CLI"). */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import {
  DescribeCACertificateCommand,
  GetRegistrationCodeCommand,
  ListCACertificatesCommand,
  type CACertificate,
} from '@aws-sdk/client-iot';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { inspectCaFile, checkVerification } from '../functions/lib/certificate.ts';
import { isPipelineError, PipelineError, remedyFor } from '../functions/lib/errors.ts';
import { listTags } from '../functions/lib/iot.ts';
import { formatTags, parseCertificateMode, parseTags, parseTemplateName, PROVENANCE_TAGS } from '../functions/lib/options.ts';
import { containsPrivateKey } from '../functions/lib/pem.ts';
import { mapLimit } from '../functions/lib/reconcile-io.ts';
import type { FailureReport, Receipt } from '../functions/lib/results.ts';
import { reconcileReportKeyFor } from '../functions/lib/source.ts';
import type { ReconcileReport } from '../functions/reconcile-report.ts';
import { localTarget, resolveTarget, type GlobalOptions, type Target } from './context.ts';
import { findExecution, followExecution, readJson, readResult, type ExecutionOutcome, type Step } from './follow.ts';
import { CliError, table, type Output } from './output.ts';

const DAY_MS = 86_400_000;

const readText = (path: string, what: string): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new CliError('FileNotFoundError', `Cannot read the ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
};

/** Private keys never leave the machine: refused before any upload. */
const refuseKeys = (text: string, path: string): void => {
  if (containsPrivateKey(text)) {
    throw new CliError('PrivateKeyMaterialError', `${path} contains private-key material; nothing was uploaded. Upload the certificate alone.`);
  }
};

const withTarget = async <T>(options: GlobalOptions, out: Output, run: (target: Target) => Promise<T>): Promise<T> => {
  const target = await resolveTarget(options, out.progress);
  try {
    return await run(target);
  } finally {
    await target.close();
  }
};

const stepLine = (step: Step): string => {
  const mark = step.outcome === 'ok' ? '✓' : step.outcome === 'retried' ? '↻' : '✗';
  return `  ${mark} ${step.name.padEnd(20)} ${String(step.ms).padStart(6)} ms${step.error && step.outcome === 'failed' ? `  ${step.error}` : ''}`;
};

interface Followed {
  key: string;
  execution: ExecutionOutcome;
  result: Receipt | FailureReport | undefined;
  active: boolean;
}

/** Follows the flow of one object to its end; ACTIVE only if the receipt says so and IoT agrees. */
const followObject = async (target: Target, out: Output, key: string, since: Date, executionArn?: string): Promise<Followed> => {
  const arn = executionArn ?? (await findExecution(target, key, since));
  out.progress(`following ${arn.split(':').at(-1)} (${key})`);
  const execution = await followExecution(target, arn, (step) => out.progress(stepLine(step)));
  const result = await readResult(target, key);
  let active = false;
  if (result?.outcome === 'ACTIVE') {
    const described = await target.iot.send(new DescribeCACertificateCommand({ certificateId: result.certificateId }));
    active = described.certificateDescription?.status === 'ACTIVE';
  }
  return { key, execution, result, active };
};

const describeFollowed = (followed: Followed): string => {
  const { result, execution } = followed;
  if (result?.outcome === 'ACTIVE' && followed.active) {
    return [
      `ACTIVE  ${result.certificateId}`,
      `  mode ${result.certificateMode}, template ${result.templateName}${result.adopted ? ', adopted (already registered)' : ''}`,
      `  receipt s3://${result.source.bucket}/${followed.key} -> results`,
      ...result.warnings.map((warning) => `  warning: ${warning}`),
    ].join('\n');
  }
  if (result?.outcome === 'FAILED') {
    return [`FAILED  ${result.error.name}: ${result.error.message}`, `  what to do: ${result.error.remedy}`].join('\n');
  }
  return `FAILED  ${execution.error ?? execution.status}: ${execution.cause ?? 'no result was written'}`;
};

const followedJson = (followed: Followed) => ({
  key: followed.key,
  executionArn: followed.execution.executionArn,
  status: followed.execution.status,
  ...(followed.execution.error ? { error: followed.execution.error } : {}),
  active: followed.active,
  steps: followed.execution.steps,
  result: followed.result ?? null,
});

// ---- check ----

export interface CheckOptions {
  verification?: string;
  mode?: string;
  registrationCode?: string;
}

export const check = (file: string, options: CheckOptions, out: Output): number => {
  const text = readText(file, 'CA file');
  const mode = options.mode ? parseCertificateMode(options.mode, '--mode') : undefined;
  const notes: string[] = [];
  try {
    const inspection = inspectCaFile(text);
    const verificationPem = options.verification ? readText(options.verification, 'verification file') : inspection.verificationPem;
    if (mode === 'SNI_ONLY' && verificationPem) throw new PipelineError('VerificationNotAllowedError', 'SNI_ONLY mode takes no verification certificate.');
    if (verificationPem) {
      checkVerification(inspection.caPem, verificationPem, options.registrationCode);
      if (!options.registrationCode) notes.push('The verification CN was not compared with a registration code (pass --registration-code).');
    } else if (mode === 'DEFAULT') {
      notes.push('DEFAULT mode will need a verification certificate (in the file or as <name>.verification.pem).');
    }
    const verdict = {
      verdict: 'PASS',
      certificateId: inspection.certificateId,
      subject: inspection.subject,
      issuer: inspection.issuer,
      key: inspection.key,
      signatureAlgorithm: inspection.signatureAlgorithm,
      notAfter: inspection.notAfter,
      verification: verificationPem ? 'checked' : 'none',
      warnings: [...inspection.warnings, ...notes],
    };
    out.result(
      verdict,
      [
        `PASS  ${inspection.certificateId}`,
        `  subject   ${inspection.subject}`,
        `  key       ${inspection.key}, ${inspection.signatureAlgorithm}`,
        `  notAfter  ${inspection.notAfter} (${Math.floor((Date.parse(inspection.notAfter) - Date.now()) / DAY_MS)} days)`,
        `  verification ${verdict.verification}`,
        ...verdict.warnings.map((warning) => `  warning: ${warning}`),
      ].join('\n'),
    );
    return 0;
  } catch (error) {
    if (!isPipelineError(error)) throw error;
    const failure = { verdict: 'FAIL', error: { name: error.name, message: error.message, remedy: remedyFor(error.name) } };
    out.result(failure, `FAIL  ${error.name}: ${error.message}\n  what to do: ${remedyFor(error.name)}`);
    return 1;
  }
};

// ---- registration-code ----

export const registrationCode = (options: GlobalOptions, out: Output): Promise<number> =>
  withTarget(options, out, async (target) => {
    const { registrationCode: code } = await target.iot.send(new GetRegistrationCodeCommand({}));
    out.result({ registrationCode: code }, code ?? '');
    return 0;
  });

// ---- drop ----

export interface DropOptions {
  verification?: string;
  mode?: string;
  template?: string;
  tag?: string[];
  key?: string;
  wait?: boolean;
}

export const drop = (file: string, options: DropOptions, global: GlobalOptions, out: Output): Promise<number> => {
  const text = readText(file, 'CA file');
  refuseKeys(text, file);
  let body = text;
  if (options.verification) {
    const verification = readText(options.verification, 'verification file');
    refuseKeys(verification, options.verification);
    // One object holding both: one flow runs, with no window where the CA lacks its verification.
    body = `${text.trimEnd()}\n${verification}`;
  }
  const metadata: Record<string, string> = {};
  if (options.mode) metadata['certificate-mode'] = parseCertificateMode(options.mode, '--mode');
  if (options.template) metadata['template-name'] = parseTemplateName(options.template, '--template');
  if (options.tag?.length) metadata.tags = formatTags(parseTags(options.tag.join('&'), '--tag'));
  return withTarget(global, out, async (target) => {
    const key = options.key ?? `${target.incomingPrefix}${basename(file)}`;
    const since = new Date();
    await target.s3.send(new PutObjectCommand({ Bucket: target.bucket, Key: key, Body: body, ContentType: 'application/x-pem-file', Metadata: metadata }));
    out.progress(`uploaded s3://${target.bucket}/${key}`);
    if (!options.wait) {
      out.result({ bucket: target.bucket, key }, `uploaded s3://${target.bucket}/${key}; the result will be written under ${target.resultsPrefix}`);
      return 0;
    }
    const followed = await followObject(target, out, key, since);
    out.result(followedJson(followed), describeFollowed(followed));
    return followed.active ? 0 : 1;
  });
};

// ---- run ----

export const run = (file: string, options: { wait?: boolean }, global: GlobalOptions, out: Output): Promise<number> => {
  const text = readText(file, 'input file');
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch {
    throw new CliError('InvalidInputError', `${file} is not JSON; expected {"bucket": "...", "key": "..."}.`);
  }
  return withTarget(global, out, async (target) => {
    const started = await target.sfn.send(new StartExecutionCommand({ stateMachineArn: target.stateMachineArn, input: JSON.stringify(input) }));
    const arn = started.executionArn as string;
    out.progress(`started ${arn}`);
    if (options.wait === false) {
      out.result({ executionArn: arn }, arn);
      return 0;
    }
    const key = typeof input === 'object' && input !== null && typeof (input as { key?: unknown }).key === 'string' ? (input as { key: string }).key : '';
    const followed = await followObject(target, out, key, new Date(), arn);
    out.result(followedJson(followed), describeFollowed(followed));
    return followed.active ? 0 : 1;
  });
};

// ---- reconcile ----

export const reconcile = (options: { deep?: boolean }, global: GlobalOptions, out: Output): Promise<number> =>
  withTarget(global, out, async (target) => {
    const started = await target.sfn.send(
      new StartExecutionCommand({ stateMachineArn: target.reconcileStateMachineArn, input: JSON.stringify({ bucket: target.bucket, deep: Boolean(options.deep) }) }),
    );
    const arn = started.executionArn as string;
    out.progress(`reconciling (${options.deep ? 'deep' : 'shallow'}): ${arn.split(':').at(-1)}`);
    const execution = await followExecution(target, arn, (step) => out.progress(stepLine(step)));
    if (execution.status !== 'SUCCEEDED') throw new CliError(execution.error ?? 'ReconcileFailedError', execution.cause ?? `reconcile ended ${execution.status}`);
    const reportKey = reconcileReportKeyFor(arn.split(':').at(-1) as string, target.resultsPrefix);
    const report = await readJson<ReconcileReport>(target, reportKey);
    if (!report) throw new CliError('ReconcileFailedError', `reconcile succeeded but wrote no report at ${reportKey}`);
    const findings = (await readJson<Array<Record<string, unknown>>>(target, report.findingsKey)) ?? [];
    const lines = [
      Object.entries(report.counts).map(([name, value]) => `${name} ${value}`).join(', '),
      `IoT calls: ${report.iotCallsTotal} (${Object.entries(report.iotCalls).map(([op, n]) => `${op} ${n}`).join(', ') || 'none'})`,
      ...findings.map((finding) => `  ${String(finding.kind).padEnd(9)} ${String(finding.key)}  ${finding.drift ? (finding.drift as string[]).join('; ') : (finding.reason ?? finding.error ?? (finding.daysLeft !== undefined ? `${finding.daysLeft} days left` : ''))}${finding.outcome ? ` (${String(finding.outcome)})` : ''}`),
    ];
    out.result({ ...report, findings }, lines.join('\n'));
    return report.counts.errors === 0 ? 0 : 1;
  });

// ---- list / status ----

interface CaView {
  certificateId: string;
  status: string;
  certificateMode: string;
  templateName: string | null;
  autoRegistration: string;
  notAfter: string | null;
  daysToExpiry: number | null;
  source: string | null;
  tags: Record<string, string>;
}

const viewOf = async (target: Target, certificateId: string): Promise<CaView> => {
  const described = await target.iot.send(new DescribeCACertificateCommand({ certificateId }));
  const d = described.certificateDescription ?? {};
  const tags = await listTags(target.iot, d.certificateArn as string);
  const notAfter = d.validity?.notAfter;
  return {
    certificateId,
    status: d.status ?? 'UNKNOWN',
    certificateMode: d.certificateMode ?? 'DEFAULT',
    templateName: described.registrationConfig?.templateName ?? null,
    autoRegistration: d.autoRegistrationStatus ?? 'DISABLE',
    notAfter: notAfter?.toISOString() ?? null,
    daysToExpiry: notAfter ? Math.floor((notAfter.getTime() - Date.now()) / DAY_MS) : null,
    source: tags[PROVENANCE_TAGS.key] ? `${tags[PROVENANCE_TAGS.bucket] ?? ''}/${tags[PROVENANCE_TAGS.key]}` : null,
    tags,
  };
};

export const list = (global: GlobalOptions, out: Output): Promise<number> =>
  withTarget(global, out, async (target) => {
    const certificates: CACertificate[] = [];
    let marker: string | undefined;
    do {
      const page = await target.iot.send(new ListCACertificatesCommand({ pageSize: 250, ascendingOrder: true, ...(marker ? { marker } : {}) }));
      certificates.push(...(page.certificates ?? []));
      marker = page.nextMarker;
    } while (marker);
    const views = await mapLimit(certificates, 4, (ca) => viewOf(target, ca.certificateId as string));
    const rows = [
      ['CERTIFICATE ID', 'STATUS', 'MODE', 'TEMPLATE', 'EXPIRES', 'SOURCE'],
      ...views.map((v) => [v.certificateId.slice(0, 16), v.status, v.certificateMode, v.templateName ?? '-', v.daysToExpiry === null ? '-' : `${v.daysToExpiry}d`, v.source ?? '-']),
    ];
    out.result(views, views.length === 0 ? 'no CA certificates registered' : table(rows));
    return 0;
  });

export const status = (certificateId: string, global: GlobalOptions, out: Output): Promise<number> =>
  withTarget(global, out, async (target) => {
    let view: CaView;
    try {
      view = await viewOf(target, certificateId);
    } catch (error) {
      if ((error as Error).name === 'ResourceNotFoundException') throw new CliError('CaNotFoundError', `No CA certificate ${certificateId}.`);
      throw error;
    }
    out.result(
      view,
      [
        `${view.certificateId}`,
        `  status            ${view.status} (auto-registration ${view.autoRegistration})`,
        `  mode              ${view.certificateMode}`,
        `  template          ${view.templateName ?? '-'}`,
        `  expires           ${view.notAfter ?? '-'} (${view.daysToExpiry ?? '?'} days)`,
        `  source            ${view.source ?? '-'}`,
        `  tags              ${Object.entries(view.tags).map(([k, v]) => `${k}=${v}`).join(', ') || '-'}`,
      ].join('\n'),
    );
    return 0;
  });

// ---- demo ----

export const demo = async (out: Output): Promise<number> => {
  const { makeCa, makeLeaf, P256, RSA2048 } = await import('../local/pki.ts');
  const target = await localTarget({ onProgress: out.progress });
  try {
    const { registrationCode: code } = await target.iot.send(new GetRegistrationCodeCommand({}));
    out.progress(`registration code ${code}`);
    const stamp = new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14);
    // Keys live only in this process's memory: the demo uploads certificates, never keys.
    const defaultCa = await makeCa({ key: P256, subject: `CN=iot-ca demo DEFAULT CA ${stamp}, O=iot-ca-pipeline demo`, fresh: true });
    const verification = await makeLeaf(defaultCa, `CN=${code}`);
    const sniCa = await makeCa({ key: RSA2048, subject: `CN=iot-ca demo SNI_ONLY CA ${stamp}, O=iot-ca-pipeline demo`, fresh: true });
    const drops = [
      { key: `${target.incomingPrefix}demo-${stamp}-default.pem`, body: `${defaultCa.pem}${verification.pem}`, metadata: { 'certificate-mode': 'DEFAULT', tags: 'env=demo' } },
      { key: `${target.incomingPrefix}demo-${stamp}-sni.pem`, body: sniCa.pem, metadata: { 'certificate-mode': 'SNI_ONLY', tags: 'env=demo' } },
    ];
    const since = new Date();
    for (const item of drops) {
      await target.s3.send(new PutObjectCommand({ Bucket: target.bucket, Key: item.key, Body: item.body, Metadata: item.metadata }));
      out.progress(`dropped ${item.key} (${item.metadata['certificate-mode']})`);
    }
    const results: Followed[] = [];
    for (const item of drops) results.push(await followObject(target, out, item.key, since));
    out.result(
      { active: results.every((r) => r.active), cas: results.map(followedJson) },
      results.map((r) => `${r.key}\n${describeFollowed(r)}`).join('\n\n'),
    );
    return results.every((r) => r.active) ? 0 : 1;
  } finally {
    await target.close();
  }
};
