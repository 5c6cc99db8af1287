/**
 * `iot-ca retire`: starts retire-ca for one CA (by its id, a prefix of it, or its PEM file) and
 * follows it as `drop --wait` follows a registration: each step as it ends, then the retired
 * receipt (`results/retired/<id>.json`) in words — the device certificates it signed, what happens
 * next. Decision: docs/adr/0103-cli-lifecycle-commands.md.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { type CACertificateDescription, DescribeCACertificateCommand } from '@aws-sdk/client-iot';
import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { objectExists } from '../../functions/aws/retire.ts';
import { certificateIdOf } from '../../functions/core/certificate.ts';
import { parsePemBlocks } from '../../functions/core/pem.ts';
import { retiredKeyFor } from '../../functions/core/retire.ts';
import { resolveCaId } from '../cas.ts';
import { type GlobalOptions, requireRetire, type Target } from '../context.ts';
import { readText } from '../files.ts';
import { withTarget } from '../flow.ts';
import { followExecution, readJson } from '../follow.ts';
import { CliError, type Output } from '../output.ts';
import { retiredText, type RetiredView, shortId, stepLine } from '../render.ts';

export interface RetireOptions {
  reason?: string;
  policy?: string;
  deleteAfterDays?: string;
  revokeDevices?: boolean;
  yes?: boolean;
  /** Commander's --no-wait: false returns once the execution has started. */
  wait?: boolean;
}

/** What retire-ca takes from the CLI (the contract's input b), before the id and requestId are known. */
export interface RetireSettings {
  reason: string;
  policy?: 'deactivate' | 'delete-after';
  deleteAfterDays?: number;
  revokeDevices?: boolean;
}

export type RetireInput = RetireSettings & {
  certificateId: string;
  requestId: string;
  graceSeconds?: number;
  replacedBy?: string;
};

const usage = (message: string): CliError => new CliError('UsageError', message, 2);

/**
 * The flags as retire-ca's input, checked before anything is reached. A flag the command does not
 * send stays unset, so the CA's tags and the deployment decide it (the input overrides both).
 */
export const retireSettings = (options: RetireOptions): RetireSettings => {
  const reason = (options.reason ?? 'manual').trim();
  if (reason.length < 1 || reason.length > 256) throw usage('--reason must be 1 to 256 characters.');
  let policy: RetireSettings['policy'];
  if (options.policy !== undefined) {
    const value = options.policy.trim().toLowerCase();
    if (value !== 'deactivate' && value !== 'delete-after')
      throw usage(`--policy is "${options.policy}"; expected deactivate or delete-after.`);
    policy = value;
  }
  let deleteAfterDays: number | undefined;
  if (options.deleteAfterDays !== undefined) {
    deleteAfterDays = Number(options.deleteAfterDays);
    if (options.deleteAfterDays.trim() === '' || !Number.isFinite(deleteAfterDays) || deleteAfterDays < 0)
      throw usage(`--delete-after-days is "${options.deleteAfterDays}"; expected a number of days (0 or more).`);
    if (policy === 'deactivate')
      throw usage('--delete-after-days goes with --policy delete-after; --policy deactivate never deletes the CA.');
    // The days only mean something with the delete: giving them asks for it.
    policy = 'delete-after';
  }
  return {
    reason,
    ...(policy ? { policy } : {}),
    ...(deleteAfterDays !== undefined ? { deleteAfterDays } : {}),
    ...(options.revokeDevices ? { revokeDevices: true } : {}),
  };
};

/** A reference as the operator gives it: a full id, an id prefix (as `list` prints), or a CA file. */
export type CaReference =
  | { kind: 'id'; value: string }
  | { kind: 'prefix'; value: string }
  | { kind: 'file'; path: string };

export const parseCaReference = (reference: string): CaReference => {
  const text = reference.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return { kind: 'id', value: text.toLowerCase() };
  if (existsSync(text)) return { kind: 'file', path: text };
  if (/^[0-9a-fA-F]{1,63}$/.test(text)) return { kind: 'prefix', value: text.toLowerCase() };
  throw new CliError(
    'CaNotFoundError',
    `"${reference}" is neither a certificate id (hexadecimal, as iot-ca list prints it) nor a CA file that exists.`,
  );
};

/** A CA file's certificateId: IoT's id is the SHA-256 of the first certificate's DER. Expired CAs are retired too. */
export const certificateIdOfFile = (path: string): string => {
  const blocks = parsePemBlocks(readText(path, 'CA file')).filter((block) => block.label === 'CERTIFICATE');
  const first = blocks[0];
  if (!first) throw new CliError('NotACertificateError', `${path} holds no CERTIFICATE block.`);
  return certificateIdOf(first.der);
};

export const resolveReference = async (target: Target, reference: CaReference): Promise<string> =>
  reference.kind === 'file'
    ? certificateIdOfFile(reference.path)
    : reference.kind === 'id'
      ? reference.value
      : resolveCaId(target, reference.value);

/**
 * Names the request: the same command on the same CA, unchanged since (IoT's customerVersion),
 * is the same request, so retire-ca recognises a re-run (after Ctrl-C, a lost connection) as the
 * cause it already claimed; a CA re-activated since gets a new one.
 */
export const requestIdFor = (
  certificateId: string,
  settings: RetireSettings & { replacedBy?: string; graceSeconds?: number },
  customerVersion: number | undefined,
): string =>
  `cli-${createHash('sha256')
    .update(JSON.stringify([certificateId, customerVersion ?? null, settings]))
    .digest('hex')
    .slice(0, 32)}`;

/** DescribeCACertificate (status, customerVersion, mode, template); undefined for an id IoT does not hold. */
export const describeForRetire = async (
  target: Target,
  certificateId: string,
): Promise<(CACertificateDescription & { templateName?: string }) | undefined> => {
  try {
    const response = await target.iot.send(new DescribeCACertificateCommand({ certificateId }));
    const templateName = response.registrationConfig?.templateName;
    return { ...response.certificateDescription, ...(templateName ? { templateName } : {}) };
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
};

const notRegistered = (certificateId: string, local: boolean | undefined): CliError =>
  new CliError(
    'CaNotFoundError',
    `AWS IoT holds no CA certificate ${certificateId}: nothing to retire. List the registered CAs with iot-ca${local ? ' --local' : ''} list; a CA deleted earlier has its receipt under results/retired/.`,
  );

/** StartExecution of retire-ca; the name says what it is for, unique per start. */
export const startRetire = async (target: Target, input: RetireInput): Promise<string> => {
  const name = `${input.certificateId.slice(0, 16)}-cli-retire-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const started = await target.sfn.send(
    new StartExecutionCommand({ stateMachineArn: requireRetire(target), name, input: JSON.stringify(input) }),
  );
  return started.executionArn as string;
};

/** The retired receipt's key, as retire-ca writes it (functions/core/retire.ts). */
export const retiredKey = (target: Target, certificateId: string): string =>
  retiredKeyFor(target.resultsPrefix, certificateId);

/** The receipt, if this execution wrote it (an earlier one's may still be there). */
const receiptOf = async (
  target: Target,
  key: string,
  executionArn: string,
): Promise<(RetiredView & { executionId?: string; source?: { bucket: string; key: string } }) | undefined> => {
  const receipt = await readJson<RetiredView & { executionId?: string; source?: { bucket: string; key: string } }>(
    target,
    key,
  );
  if (!receipt?.executionId) return undefined;
  return receipt.executionId === executionArn || receipt.executionId.endsWith(`:${shortId(executionArn)}`)
    ? receipt
    : undefined;
};

/** Outcomes after which the CA is retired, whoever did it (`duplicate` only once the CA is not ACTIVE). */
const RETIRED = new Set(['retired', 'deleted', 'already-retired', 'duplicate']);

/**
 * `duplicate` says another execution holds this request's claim: still running (a rotation's
 * grace, a delete-after wait) or finished. It is a success only when the CA is not ACTIVE now.
 */
export const checkDuplicate = async (
  target: Target,
  certificateId: string,
  executionArn: string,
  detail: string | undefined,
): Promise<void> => {
  const now = await describeForRetire(target, certificateId);
  if (now?.status !== 'ACTIVE') return;
  throw new CliError(
    'RetireAlreadyClaimedError',
    `CA ${certificateId} is still ACTIVE: retire-ca ended duplicate (execution ${shortId(executionArn)}): ${detail ?? 'another execution holds this request'}. Wait for that execution to end, or stop it (aws stepfunctions stop-execution) and run this command again.`,
  );
};

/**
 * Revoking is irreversible and cuts off every device of the CA: on a terminal the operator types
 * `revoke`; elsewhere (a script, CI) only --yes says so.
 */
const confirmRevocation = async (certificateId: string, options: RetireOptions): Promise<void> => {
  if (options.yes) return;
  const warning = `--revoke-devices revokes every device certificate CA ${certificateId} signed: those devices are cut off, and a REVOKED certificate can never be made ACTIVE again.`;
  if (!process.stdin.isTTY)
    throw new CliError(
      'ConfirmationRequiredError',
      `${warning} Nothing was started. Add --yes to confirm it (or run the command on a terminal to be asked).`,
      2,
    );
  process.stderr.write(`warning: ${warning}\n`);
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question('Type "revoke" to go on: ');
    if (answer.trim() !== 'revoke')
      throw new CliError('ConfirmationRequiredError', 'Not confirmed: nothing was started.', 1);
  } finally {
    prompt.close();
  }
};

export const retire = async (
  reference: string,
  options: RetireOptions,
  global: GlobalOptions,
  out: Output,
): Promise<number> => {
  const settings = retireSettings(options);
  const parsed = parseCaReference(reference);
  // A file that is not a CA is refused before any stack is reached.
  const fileId = parsed.kind === 'file' ? certificateIdOfFile(parsed.path) : undefined;
  return withTarget(global, out, async (target) => {
    requireRetire(target);
    const certificateId = fileId ?? (await resolveReference(target, parsed));
    const receiptKey = retiredKey(target, certificateId);
    const description = await describeForRetire(target, certificateId);
    if (!description) {
      const earlier = await readJson<RetiredView>(target, receiptKey);
      if (earlier?.outcome === 'deleted') {
        // Idempotent: the CA went with an earlier retirement; say so instead of failing.
        out.result(
          { certificateId, outcome: 'deleted', executionArn: null, pending: false, receiptKey, receipt: earlier },
          retiredText(earlier, { bucket: target.bucket, receiptKey, local: global.local, pending: false }),
        );
        return 0;
      }
      throw notRegistered(certificateId, global.local);
    }
    if (settings.revokeDevices) await confirmRevocation(certificateId, options);
    const input: RetireInput = {
      certificateId,
      ...settings,
      requestId: requestIdFor(certificateId, settings, description.customerVersion),
    };
    const arn = await startRetire(target, input);
    out.progress(`retiring ${certificateId} (${description.status}): ${shortId(arn)}`);
    if (options.wait === false) {
      out.result(
        { certificateId, executionArn: arn, requestId: input.requestId, receiptKey },
        `started ${arn}\n  receipt (when it ends): s3://${target.bucket}/${receiptKey}`,
      );
      return 0;
    }
    // A delete-after retirement reports, then waits out its days: following stops at the report.
    const reported = async () => {
      const receipt = await receiptOf(target, receiptKey, arn);
      return Boolean(receipt?.outcome === 'retired' && receipt.deleteAfter);
    };
    const execution = await followExecution(target, arn, (step) => out.progress(stepLine(step)), reported);
    if (execution.status !== 'SUCCEEDED' && execution.status !== 'RUNNING')
      throw new CliError(
        execution.error ?? 'RetireFailedError',
        `${execution.cause ?? `retire-ca ended ${execution.status}`} (execution ${shortId(arn)}; the receipt, if any, is at s3://${target.bucket}/${receiptKey})`,
      );
    const pending = execution.status === 'RUNNING';
    const described = pending ? undefined : await target.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    const output = described?.output ? (JSON.parse(described.output) as { outcome?: string; detail?: string }) : {};
    const receipt = await receiptOf(target, receiptKey, arn);
    const outcome = output.outcome ?? receipt?.outcome ?? 'unknown';
    if (outcome === 'duplicate') await checkDuplicate(target, certificateId, arn, output.detail);
    const json = {
      certificateId,
      executionArn: arn,
      status: execution.status,
      outcome,
      pending,
      requestId: input.requestId,
      steps: execution.steps,
      receiptKey,
      receipt: receipt ?? null,
    };
    if (receipt) {
      const source = receipt.source && outcome !== 'deleted' ? receipt.source : undefined;
      const objectStillThere =
        source && (await objectExists(target.s3, source.bucket, source.key)) ? source : undefined;
      out.result(
        { ...json, objectStillThere: objectStillThere ?? null },
        retiredText(receipt, { bucket: target.bucket, receiptKey, local: global.local, pending, objectStillThere }),
      );
    } else {
      const earlier = await readJson<RetiredView>(target, receiptKey);
      out.result(
        { ...json, receipt: earlier ?? null },
        `${outcome.toUpperCase()}  ${certificateId}${output.detail ? `: ${output.detail}` : ''}${earlier ? `\n  receipt    s3://${target.bucket}/${receiptKey} (from an earlier retirement, ${earlier.finishedAt ?? ''})` : ''}`,
      );
    }
    return RETIRED.has(outcome) ? 0 : 1;
  });
};
