/** The `iot-ca` commands (contract: shared/ARCHITECTURE.md "The iot-ca CLI"); `drop` is in drop.ts, `result` in result.ts. */
import { GetRegistrationCodeCommand, paginateListCACertificates, type CACertificate } from '@aws-sdk/client-iot';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { checkVerification, daysLeft, inspectCaFile } from '../functions/core/certificate.ts';
import { isPipelineError, PipelineError, remedyFor } from '../functions/core/errors.ts';
import { describeCa, listTags } from '../functions/aws/iot.ts';
import { parseCertificateMode, PROVENANCE_TAGS } from '../functions/core/options.ts';
import { derKind } from '../functions/core/pem.ts';
import { reconcileReportKeyFor } from '../functions/core/source.ts';
import type { ReconcileReport } from '../functions/reconcile-report.ts';
import { localTarget, type GlobalOptions, type Target } from './context.ts';
import pMap from 'p-map';
import { readText } from './files.ts';
import { describeFollowed, followedJson, followObject, stepLine, withTarget, type Followed } from './flow.ts';
import { followExecution, listKeys, readJson, readResult } from './follow.ts';
import { CliError, table, type Output } from './output.ts';
import { deploymentDefaults } from './rule.ts';

// ---- check ----

export interface CheckOptions {
  verification?: string;
  mode?: string;
  registrationCode?: string;
}

/**
 * What to do, for an offline check: nothing was uploaded, and a DER PKCS#7 bundle needs
 * `openssl pkcs7`, not the `openssl x509` the pipeline's NotPemError remedy gives for DER.
 */
const checkRemedy = (name: string, text: string): string => {
  if (name === 'PrivateKeyMaterialError') {
    return 'Nothing was uploaded. Keep the key out of the file: give the certificate alone (openssl x509 -in <file> -out ca.pem writes only the certificate).';
  }
  if (name === 'NotPemError' && derKind(text) === 'pkcs7') {
    return 'Extract the certificates from the PKCS#7 bundle first: openssl pkcs7 -inform der -print_certs -in <file> -out ca.pem';
  }
  return remedyFor(name);
};

export const check = (file: string, options: CheckOptions, out: Output): number => {
  const text = readText(file, 'CA file');
  // The mode a drop would get: the flag, else the deployment's default (serverless.yml params).
  const mode = options.mode ? parseCertificateMode(options.mode, '--mode') : deploymentDefaults().certificateMode;
  const notes: string[] = [];
  try {
    const inspection = inspectCaFile(text);
    const verificationPem = options.verification ? readText(options.verification, 'verification file') : inspection.verificationPem;
    if (mode === 'SNI_ONLY' && verificationPem) throw new PipelineError('VerificationNotAllowedError', 'SNI_ONLY mode takes no verification certificate.');
    if (verificationPem) {
      checkVerification(inspection.caPem, verificationPem, options.registrationCode);
      if (!options.registrationCode) notes.push('The verification CN was not compared with a registration code (pass --registration-code).');
    } else if (mode === 'DEFAULT') {
      throw new PipelineError(
        'VerificationCertificateMissingError',
        `${options.mode ? '--mode DEFAULT' : 'DEFAULT mode (the default, as for drop)'} needs a verification certificate: pass --verification <file>, put it after the CA in ${file}, or check with --mode SNI_ONLY.`,
      );
    }
    const verdict = {
      verdict: 'PASS',
      certificateId: inspection.certificateId,
      certificateMode: mode,
      subject: inspection.subject,
      issuer: inspection.issuer,
      key: inspection.key,
      signatureAlgorithm: inspection.signatureAlgorithm,
      notAfter: inspection.notAfter,
      daysLeft: daysLeft(new Date(inspection.notAfter)),
      verification: verificationPem ? 'checked' : 'none',
      warnings: [...inspection.warnings, ...notes],
    };
    out.result(
      verdict,
      [
        `PASS  ${inspection.certificateId}`,
        `  subject   ${inspection.subject}`,
        `  key       ${inspection.key}, ${inspection.signatureAlgorithm}`,
        `  notAfter  ${inspection.notAfter} (${verdict.daysLeft} days)`,
        `  mode      ${mode}, verification ${verdict.verification}`,
        ...verdict.warnings.map((warning) => `  warning: ${warning}`),
      ].join('\n'),
    );
    return 0;
  } catch (error) {
    if (!isPipelineError(error)) throw error;
    const remedy = checkRemedy(error.name, text);
    const failure = { verdict: 'FAIL', error: { name: error.name, message: error.message, remedy } };
    out.result(failure, `FAIL  ${error.name}: ${error.message}\n  what to do: ${remedy}`);
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
    out.result(followedJson(followed), describeFollowed(target, followed));
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
  const d = await describeCa(target.iot, certificateId);
  if (!d) throw new CliError('CaNotFoundError', `No CA certificate ${certificateId}.`);
  const tags = await listTags(target.iot, d.certificateArn);
  const notAfter = d.notAfter;
  return {
    certificateId,
    status: d.status,
    certificateMode: d.certificateMode,
    templateName: d.templateName ?? null,
    autoRegistration: d.autoRegistrationStatus,
    notAfter: notAfter?.toISOString() ?? null,
    daysToExpiry: notAfter ? daysLeft(notAfter) : null,
    source: tags[PROVENANCE_TAGS.key] ? `${tags[PROVENANCE_TAGS.bucket] ?? ''}/${tags[PROVENANCE_TAGS.key]}` : null,
    tags,
  };
};

const listCaIds = async (target: Target): Promise<string[]> => {
  const certificates: CACertificate[] = [];
  for await (const page of paginateListCACertificates({ client: target.iot, pageSize: 250 }, { ascendingOrder: true })) certificates.push(...(page.certificates ?? []));
  return certificates.map((ca) => ca.certificateId as string);
};

/** A dropped file and what became of it: its receipt, its failure report, or nothing yet. */
interface FileView {
  key: string;
  outcome: 'ACTIVE' | 'FAILED' | 'PENDING';
  certificateId: string | null;
  error: { name: string; message: string; remedy: string } | null;
  finishedAt: string | null;
}

const fileViews = async (target: Target): Promise<FileView[]> => {
  const keys = await listKeys(target, target.incomingPrefix);
  const dropped = keys.filter((key) => target.rule.matches(key));
  return pMap(dropped, async (key): Promise<FileView> => {
    const result = await readResult(target, key);
    return {
      key,
      outcome: result?.outcome ?? 'PENDING',
      certificateId: result && 'certificateId' in result ? (result.certificateId ?? null) : null,
      error: result?.outcome === 'FAILED' ? result.error : null,
      finishedAt: result?.finishedAt ?? null,
    };
  }, { concurrency: 8 });
};

export const list = (options: { all?: boolean }, global: GlobalOptions, out: Output): Promise<number> =>
  withTarget(global, out, async (target) => {
    const ids = await listCaIds(target);
    const views = await pMap(ids, (id) => viewOf(target, id), { concurrency: 4 });
    const rows = [
      ['CERTIFICATE ID', 'STATUS', 'MODE', 'TEMPLATE', 'EXPIRES', 'SOURCE'],
      ...views.map((v) => [v.certificateId.slice(0, 16), v.status, v.certificateMode, v.templateName ?? '-', v.daysToExpiry === null ? '-' : `${v.daysToExpiry}d`, v.source ?? '-']),
    ];
    const casText = views.length === 0 ? 'no CA certificates registered' : table(rows);
    if (!options.all) {
      out.result(views, casText);
      return 0;
    }
    // --all: every file dropped under the incoming prefix, with its outcome, failed ones included.
    const files = await fileViews(target);
    const fileRows = [
      ['FILE', 'OUTCOME', 'CERTIFICATE ID / ERROR'],
      ...files.map((f) => [f.key, f.outcome, f.outcome === 'FAILED' ? (f.error?.name ?? '') : (f.certificateId ?? '-').slice(0, 16)]),
    ];
    out.result({ cas: views, files }, `${casText}\n\n${files.length === 0 ? `no files under ${target.incomingPrefix}` : table(fileRows)}`);
    return 0;
  });

/**
 * A CA by its id or any unique prefix of it (`list` prints 16 characters); a prefix shared by
 * several CAs is an error that names them.
 */
export const resolveCaId = async (target: Target, id: string): Promise<string> => {
  const wanted = id.trim().toLowerCase();
  if (!/^[0-9a-f]{1,64}$/.test(wanted)) throw new CliError('CaNotFoundError', `"${id}" is not a certificate id (hexadecimal, as list prints it).`);
  if (wanted.length === 64) return wanted;
  const matches = (await listCaIds(target)).filter((candidate) => candidate.startsWith(wanted));
  if (matches.length === 0) throw new CliError('CaNotFoundError', `No CA certificate id starts with ${wanted}.`);
  if (matches.length > 1) {
    throw new CliError('AmbiguousIdError', `${matches.length} CA certificates start with ${wanted}: ${matches.map((match) => match.slice(0, 16)).join(', ')}; give more characters.`);
  }
  return matches[0] as string;
};

export const status = (certificateId: string, global: GlobalOptions, out: Output): Promise<number> =>
  withTarget(global, out, async (target) => {
    const id = await resolveCaId(target, certificateId);
    const view = await viewOf(target, id);
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
  const target = await localTarget({ onProgress: out.progress, onNotice: out.notice });
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
      results.map((r) => `${r.key}\n${describeFollowed(target, r)}`).join('\n\n'),
    );
    return results.every((r) => r.active) ? 0 : 1;
  } finally {
    await target.close();
  }
};
