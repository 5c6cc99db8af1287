/**
 * `iot-ca drop`: one CA file, many, or folders of them. Everything is checked before anything is
 * uploaded (private keys, keys the trigger would ignore), a CA that is already registered gets a
 * plan of what the drop will change, uploads run a few at a time, and `--wait` ends with one
 * outcome per file. Decision and measurements: docs/adr/0100-bulk-drop.md.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import pMap from 'p-map';
import { inspectCaFile } from '../../functions/core/certificate.ts';
import { PipelineError } from '../../functions/core/errors.ts';
import { describeCa, listTags } from '../../functions/aws/iot.ts';
import {
  desiredTags,
  formatTags,
  parseCertificateMode,
  parseTemplateName,
  PROVENANCE_PREFIX,
  validateTag,
  type Tags,
} from '../../functions/core/options.ts';
import { parseSigner } from '../../functions/core/signer.ts';
import { resultKeyFor } from '../../functions/core/source.ts';
import type { GlobalOptions, Target } from '../context.ts';
import { followedJson, followObject, settle, withTarget, type Followed } from '../flow.ts';
import { EXECUTION_TIMEOUT_MS, ExecutionFinder, followExecution } from '../follow.ts';
import { CliError, type Output } from '../output.ts';
import {
  dropCountLine,
  dropOutcomeLine,
  dropSummaryText,
  dryRunText,
  followedText,
  planText,
  uploadedText,
  type PlanView,
} from '../render.ts';
import { readText, refuseKeys } from '../files.ts';

export interface DropOptions {
  verification?: string;
  mode?: string;
  template?: string;
  tag?: string[];
  signer?: string;
  key?: string;
  wait?: boolean;
  dryRun?: boolean;
  concurrency?: string;
  /** Object metadata a calling command adds (rotate's `replaces`); no flag sets it. */
  metadata?: Record<string, string>;
}

/** Uploads (and follows) this many files at once unless --concurrency says otherwise. */
const DEFAULT_CONCURRENCY = 8;
/** Names a folder's CA files may have; anything else in a folder (keys, CSRs, notes) is left alone. */
const CERTIFICATE_FILE = /\.(pem|crt|cer|der)$/i;
const VERIFICATION_FILE = /\.verification\.pem$/i;

// ---- tags ----

/** Characters AWS accepts in tag keys and values (the pipeline's own rule, in options.ts). */
const TAG_CHAR = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]$/u;
const TAG_CHARS_TEXT = 'letters, digits, spaces and _ . : / = + - @';

const badChars = (text: string): string[] => [...new Set([...text].filter((char) => !TAG_CHAR.test(char)))];

/**
 * Each `--tag k=v` is one tag: split at the first `=`, so a value may hold `=`. The tags travel
 * URL-encoded in the `tags` metadata (`k1=v1&k2=v2`), so `+`, `=` and spaces arrive as typed;
 * `&` or `,` are refused here, naming the part that holds them, rather than becoming two tags
 * or a refusal after the upload.
 */
export const parseTagFlags = (values: string[] = []): Tags => {
  const tags: Tags = {};
  for (const flag of values) {
    const eq = flag.indexOf('=');
    if (eq <= 0) throw new PipelineError('InvalidOptionsError', `--tag "${flag}" is not k=v.`);
    const key = flag.slice(0, eq).trim();
    const value = flag.slice(eq + 1).trim();
    const inKey = badChars(key);
    if (inKey.length > 0) {
      throw new PipelineError(
        'InvalidOptionsError',
        `--tag "${flag}": the key "${key}" has ${inKey.map((c) => `"${c}"`).join(' ')}, which AWS does not accept in tags (${TAG_CHARS_TEXT}).`,
      );
    }
    const inValue = badChars(value);
    if (inValue.length > 0) {
      const hint =
        inValue.includes('&') || inValue.includes(',')
          ? ' Give each tag its own --tag (--tag team=factory --tag env=prod).'
          : '';
      throw new PipelineError(
        'InvalidOptionsError',
        `--tag "${flag}": the value "${value}" of tag "${key}" has ${inValue.map((c) => `"${c}"`).join(' ')}, which AWS does not accept in tags (${TAG_CHARS_TEXT}).${hint}`,
      );
    }
    if (key in tags) throw new PipelineError('InvalidOptionsError', `--tag: tag "${key}" is given twice.`);
    if (key.startsWith(PROVENANCE_PREFIX))
      throw new PipelineError(
        'InvalidOptionsError',
        `--tag: tag keys starting with "${PROVENANCE_PREFIX}" are the pipeline's own.`,
      );
    validateTag(key, value, '--tag');
    tags[key] = value;
  }
  return tags;
};

// ---- files ----

interface DropFile {
  path: string;
  verification?: string;
}

/** Files and folders (their certificate files, each with its `<name>.verification.pem` if present). */
export const expandPaths = (paths: string[], out: Output): DropFile[] => {
  const files: string[] = [];
  for (const path of paths) {
    let isFolder = false;
    try {
      isFolder = statSync(path).isDirectory();
    } catch (error) {
      throw new CliError(
        'FileNotFoundError',
        `Cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
    if (!isFolder) {
      files.push(path);
      continue;
    }
    const entries = readdirSync(path, { withFileTypes: true }).filter(
      (entry) => entry.isFile() && !entry.name.startsWith('.'),
    );
    const taken = entries.filter((entry) => CERTIFICATE_FILE.test(entry.name)).map((entry) => join(path, entry.name));
    const skipped = entries.filter((entry) => !CERTIFICATE_FILE.test(entry.name)).map((entry) => entry.name);
    if (skipped.length > 0) out.progress(`skipped in ${path}: ${skipped.join(', ')} (not .pem, .crt, .cer or .der)`);
    files.push(...taken.sort());
  }
  const stem = (path: string) =>
    join(dirname(path), basename(path).replace(VERIFICATION_FILE, '').replace(CERTIFICATE_FILE, ''));
  const cas = files.filter((path) => !VERIFICATION_FILE.test(path));
  const result: DropFile[] = cas.map((path) => ({ path }));
  for (const verification of files.filter((path) => VERIFICATION_FILE.test(path))) {
    const owner = result.find((file) => stem(file.path) === stem(verification));
    if (owner) owner.verification = verification;
    else out.progress(`skipped ${verification}: no CA file beside it`);
  }
  return result;
};

interface Prepared {
  file: string;
  key: string;
  body: Buffer;
  /** The CA's id when the file passes the offline pre-flight (for the plan); the pipeline judges the rest. */
  certificateId?: string;
}

/** Why a key the trigger ignores would never run, and how to name the file so it does. */
const untriggered = (target: Target, items: Prepared[]): CliError => {
  const lines = items.map((item) => {
    const text = item.body.toString('latin1');
    const isPem = text.includes('-----BEGIN');
    const pemName = `${target.incomingPrefix}${basename(item.file).replace(/\.[^./]*$/, '')}.pem`;
    const how = !item.key.startsWith(target.incomingPrefix)
      ? `put it under ${target.incomingPrefix}`
      : isPem
        ? `a PEM file may go up under another name: --key ${pemName} (or rename it to .pem)`
        : `it is not PEM: convert it (openssl x509 -inform der -in ${basename(item.file)} -out ${basename(pemName)}) and drop the .pem`;
    return `${item.key}: ${how}`;
  });
  return new CliError(
    'UntriggeredKeyError',
    `${items.length === 1 ? 'This key' : `${items.length} keys`} would not start the pipeline; its trigger (serverless.yml) takes ${target.rule.patterns.join(', ')}. Nothing was uploaded. ${lines.join('; ')}`,
  );
};

/** A signer proves possession of the CA key, which only DEFAULT mode checks (as the pipeline rules). */
const signerWithSniOnly = (mode: string): PipelineError =>
  new PipelineError(
    'InvalidOptionsError',
    `--signer proves possession of the CA key, which ${mode} does not check: drop --signer, or use --mode DEFAULT. Nothing was uploaded.`,
  );

// ---- plan ----

/** What a drop will change on one CA (render.ts prints it), for the file it comes from. */
export interface Plan extends PlanView {
  file: string;
}

/**
 * What a drop will change on a CA that is already registered: the object states the desired
 * template and tags (the pipeline owns the CA's tags), so a re-drop without a tag removes it.
 */
const planFor = async (
  target: Target,
  item: Prepared,
  options: DropOptions,
  operatorTags: Tags,
): Promise<Plan | undefined> => {
  if (!item.certificateId) return undefined;
  const description = await describeCa(target.iot, item.certificateId);
  if (!description)
    return { file: item.file, key: item.key, certificateId: item.certificateId, registered: false, changes: [] };
  const current = await listTags(target.iot, description.certificateArn);
  const desired = desiredTags(
    { ...target.defaults.tags, ...operatorTags },
    { bucket: target.bucket, key: item.key },
    item.certificateId,
  );
  const changes: string[] = [];
  for (const [key, value] of Object.entries(desired)) {
    if (!(key in current)) changes.push(`+ tag ${key}=${value}`);
    else if (current[key] !== value) changes.push(`~ tag ${key}: ${current[key]} -> ${value}`);
  }
  for (const [key, value] of Object.entries(current))
    if (!(key in desired)) changes.push(`- tag ${key}=${value} (not in this drop: removed)`);
  const template = options.template ?? target.defaults.templateName;
  const currentTemplate = description.templateName;
  if (currentTemplate !== template) changes.push(`~ template: ${currentTemplate ?? '(none)'} -> ${template}`);
  if (description.status !== 'ACTIVE') changes.push(`~ status: ${description.status} -> ACTIVE`);
  if (description.autoRegistrationStatus !== 'ENABLE') changes.push('~ auto-registration: DISABLE -> ENABLE');
  const mode = options.mode ? parseCertificateMode(options.mode, '--mode') : target.defaults.certificateMode;
  const currentMode = description.certificateMode;
  return {
    file: item.file,
    key: item.key,
    certificateId: item.certificateId,
    registered: true,
    status: description.status,
    changes,
    ...(currentMode !== mode
      ? {
          conflict: `registered in ${currentMode} mode, this drop asks ${mode}: the flow will fail (CertificateModeConflictError) and leave the CA ${description.status} as it is`,
        }
      : {}),
  };
};

// ---- running many at once ----

/**
 * Progress of a bulk drop on stderr: one line rewritten in place on a terminal, plain lines when
 * stderr is a file or a pipe, JSON lines with --json.
 */
class Progress {
  private readonly live: boolean;
  private status = '';

  constructor(private readonly out: Output) {
    this.live = Boolean(process.stderr.isTTY) && !out.json;
  }

  /** A line that stays (a file's outcome). */
  line(data: Record<string, unknown>, text: string): void {
    if (this.live) process.stderr.write(`\r\x1b[K${text}\n${this.status}`);
    else this.out.progressEvent(data, text);
  }

  /** The running count: rewritten on a terminal, else only at its milestones (the caller's choice). */
  count(data: Record<string, unknown>, text: string): void {
    if (this.live) {
      this.status = text;
      process.stderr.write(`\r\x1b[K${text}`);
    } else this.out.progressEvent(data, text);
  }

  end(): void {
    if (this.live && this.status) process.stderr.write('\r\x1b[K');
    this.status = '';
  }
}

interface FileOutcome {
  file: string;
  key: string;
  executionArn: string | null;
  outcome: 'ACTIVE' | 'FAILED' | 'UPLOADED' | 'NOT_STARTED';
  certificateId?: string;
  error?: { name: string; message: string };
  followed?: Followed;
}

const outcomeOf = (file: string, key: string, followed: Followed): FileOutcome => {
  const { result } = followed;
  const base = { file, key, executionArn: followed.execution.executionArn, followed };
  if (result?.outcome === 'ACTIVE' && followed.active)
    return { ...base, outcome: 'ACTIVE', certificateId: result.certificateId };
  if (result?.outcome === 'FAILED') {
    return {
      ...base,
      outcome: 'FAILED',
      ...(result.certificateId ? { certificateId: result.certificateId } : {}),
      error: { name: result.error.name, message: result.error.message },
    };
  }
  return {
    ...base,
    outcome: 'FAILED',
    error: {
      name: followed.execution.error ?? followed.execution.status,
      message: followed.execution.cause ?? 'no result was written',
    },
  };
};

// ---- the command ----

export const drop = async (
  paths: string[],
  options: DropOptions,
  global: GlobalOptions,
  out: Output,
  /** The target a calling command already holds (rotate), instead of one resolved here. */
  on?: Target,
): Promise<number> => {
  const bulk = paths.length > 1 || paths.some((path) => statSync(path, { throwIfNoEntry: false })?.isDirectory());
  const files = expandPaths(paths, out);
  if (files.length === 0)
    throw new CliError('NoFilesError', `No certificate files (.pem, .crt, .cer, .der) in ${paths.join(', ')}.`);
  if (files.length > 1 && options.key)
    throw new CliError('UsageError', '--key names one object; it cannot be used with several files.', 2);
  if (files.length > 1 && options.verification) {
    throw new CliError(
      'UsageError',
      '--verification belongs to one CA; for several, put each beside its CA as <name>.verification.pem (or after the CA in its file).',
      2,
    );
  }
  const concurrency = options.concurrency === undefined ? DEFAULT_CONCURRENCY : Number(options.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new CliError('UsageError', '--concurrency must be a whole number of at least 1.', 2);

  // Everything local is checked before the target is even reached: nothing half-uploaded.
  const metadata: Record<string, string> = {};
  if (options.mode) metadata['certificate-mode'] = parseCertificateMode(options.mode, '--mode');
  if (options.template) metadata['template-name'] = parseTemplateName(options.template, '--template');
  if (options.signer !== undefined) {
    // The pipeline's own parser: a value it would refuse is refused here, before any upload.
    metadata.signer = parseSigner(options.signer, '--signer').value;
    if (options.verification)
      throw new CliError(
        'UsageError',
        '--signer has the pipeline make and sign the verification certificate; drop --verification.',
        2,
      );
    if (metadata['certificate-mode'] === 'SNI_ONLY') throw signerWithSniOnly('--mode SNI_ONLY');
  }
  Object.assign(metadata, options.metadata);
  const operatorTags = parseTagFlags(options.tag);
  if (Object.keys(operatorTags).length > 0) metadata.tags = formatTags(operatorTags);
  const bodies = files.map((file) => {
    const text = readText(file.path, 'CA file');
    refuseKeys(text, file.path);
    const verificationPath = options.verification ?? file.verification;
    if (!verificationPath) return { file: file.path, text };
    const verification = readText(verificationPath, 'verification file');
    refuseKeys(verification, verificationPath);
    // One object holding both: one flow runs, with no window where the CA lacks its verification.
    return { file: file.path, text: `${text.trimEnd()}\n${verification}` };
  });

  const act = async (target: Target): Promise<number> => {
    if (metadata.signer && !metadata['certificate-mode'] && target.defaults.certificateMode === 'SNI_ONLY')
      throw signerWithSniOnly("the deployment's default mode SNI_ONLY");
    const items: Prepared[] = bodies.map(({ file, text }) => {
      let certificateId: string | undefined;
      try {
        certificateId = inspectCaFile(text).certificateId;
      } catch {
        // The pipeline will say what is wrong, in a report beside the file.
      }
      return {
        file,
        key: options.key ?? `${target.incomingPrefix}${basename(file)}`,
        body: Buffer.from(text, 'utf8'),
        ...(certificateId ? { certificateId } : {}),
      };
    });
    const seen = new Map<string, string>();
    for (const item of items) {
      const other = seen.get(item.key);
      if (other)
        throw new CliError(
          'DuplicateKeyError',
          `${other} and ${item.file} would both be uploaded as ${item.key}; rename one. Nothing was uploaded.`,
        );
      seen.set(item.key, item.file);
    }
    const ignored = items.filter((item) => !target.rule.matches(item.key));
    if (ignored.length > 0) throw untriggered(target, ignored);

    const plans = (
      await pMap(items, (item) => planFor(target, item, options, operatorTags), { concurrency: 4 })
    ).filter((plan): plan is Plan => plan !== undefined);
    for (const plan of plans) if (plan.registered) out.progressEvent({ event: 'plan', ...plan }, planText(plan));
    if (options.dryRun) {
      const files = items.map((item) => ({
        file: item.file,
        key: item.key,
        plan: plans.find((plan) => plan.key === item.key) ?? null,
      }));
      out.result({ dryRun: true, files }, dryRunText(files));
      return 0;
    }

    const progress = new Progress(out);
    const since = new Date();
    let uploaded = 0;
    await pMap(
      items,
      async (item) => {
        // A Buffer has a known length: the SDK streams nothing of unknown size (and warns of none).
        await target.s3.send(
          new PutObjectCommand({
            Bucket: target.bucket,
            Key: item.key,
            Body: item.body,
            ContentLength: item.body.length,
            ContentType: 'application/x-pem-file',
            Metadata: metadata,
          }),
        );
        uploaded += 1;
        if (bulk)
          progress.count(
            { event: 'uploaded', file: item.file, key: item.key, uploaded, total: items.length },
            `uploaded ${uploaded}/${items.length}  ${item.key}`,
          );
        else out.progress(`uploaded s3://${target.bucket}/${item.key}`);
      },
      { concurrency },
    );
    const finder = new ExecutionFinder(target, since);

    if (!bulk && options.wait) {
      const item = items[0] as Prepared;
      const followed = await followObject(target, out, item.key, since);
      const plan = plans.find((entry) => entry.key === item.key);
      out.result(
        { ...followedJson(followed), ...(plan ? { plan } : {}) },
        followedText(target.resultsPrefix, followed),
      );
      return followed.active ? 0 : 1;
    }

    if (!options.wait) {
      // The execution ids, when the trigger has started them by now; `iot-ca result` finds them later.
      const found = await finder.waitFor(
        items.map((item) => item.key),
        target.kind === 'deployed' ? 15_000 : 5_000,
      );
      const rows = items.map((item) => ({
        file: item.file,
        key: item.key,
        executionArn: found.get(item.key) ?? null,
        resultKey: resultKeyFor(item.key, target.resultsPrefix),
        plan: plans.find((plan) => plan.key === item.key) ?? null,
      }));
      progress.end();
      out.result(
        bulk ? { bucket: target.bucket, files: rows } : { bucket: target.bucket, ...rows[0] },
        uploadedText(target.bucket, global.local, rows),
      );
      return 0;
    }

    // --wait on many: follow each (statuses polled, history read once at its end), then a summary.
    const counts = { ACTIVE: 0, FAILED: 0 };
    const outcomes = await pMap(
      items,
      async (item): Promise<FileOutcome> => {
        const found = await finder.waitFor([item.key], EXECUTION_TIMEOUT_MS);
        const arn = found.get(item.key);
        let outcome: FileOutcome;
        if (!arn) {
          outcome = {
            file: item.file,
            key: item.key,
            executionArn: null,
            outcome: 'NOT_STARTED',
            error: {
              name: 'ExecutionNotFoundError',
              message: `no execution started within ${EXECUTION_TIMEOUT_MS / 1000}s`,
            },
          };
        } else {
          const execution = await followExecution(target, arn);
          outcome = outcomeOf(item.file, item.key, await settle(target, item.key, execution));
        }
        counts[outcome.outcome === 'ACTIVE' ? 'ACTIVE' : 'FAILED'] += 1;
        const done = counts.ACTIVE + counts.FAILED;
        progress.line(
          {
            event: 'done',
            file: item.file,
            key: item.key,
            outcome: outcome.outcome,
            ...(outcome.certificateId ? { certificateId: outcome.certificateId } : {}),
            ...(outcome.error ? { error: outcome.error.name } : {}),
          },
          dropOutcomeLine(outcome),
        );
        progress.count(
          { event: 'progress', done, total: items.length, ...counts },
          dropCountLine(done, items.length, counts),
        );
        return outcome;
      },
      { concurrency },
    );
    progress.end();
    const summary = { total: outcomes.length, active: counts.ACTIVE, failed: counts.FAILED };
    out.result(
      {
        summary,
        files: outcomes.map(({ followed, ...o }) => ({
          ...o,
          ...(followed ? { steps: followed.execution.steps, result: followed.result ?? null } : {}),
          plan: plans.find((plan) => plan.key === o.key) ?? null,
        })),
      },
      dropSummaryText(outcomes, summary, global.local),
    );
    return counts.FAILED === 0 ? 0 : 1;
  };
  return on ? act(on) : withTarget(global, out, act);
};
