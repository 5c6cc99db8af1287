/**
 * `iot-ca ca create`: a CA whose private key never leaves AWS KMS or AWS Private CA. Only its
 * certificate is written; the signer it prints (`kms:<alias>` or `pca:<arn>`) is what
 * `iot-ca drop --signer` gives the pipeline, which then proves ownership through the same service.
 * Decision and measurements: docs/adr/0102-ca-create-through-the-signer.md.
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { inspectCaFile } from '../../functions/core/certificate.ts';
import type { GlobalOptions } from '../context.ts';
import { commonName, parseSubject, type DnPart } from '../dn.ts';
import { createKmsCa, KMS_KEY_SPECS, type KmsKeySpec } from '../kms-ca.ts';
import { CliError, type Output } from '../output.ts';
import { createPcaCa, PCA_KEY_ALGORITHMS, type PcaKeyAlgorithm } from '../pca-ca.ts';
import { SERVICE_NAMES, signerServices, type SignerKind } from '../signer-services.ts';

export interface CaCreateOptions {
  signer?: string;
  out?: string;
  subject?: string;
  keySpec?: string;
  days?: string;
  alias?: string;
  force?: boolean;
}

/** How far this machine's clock may lag the service's when the new certificate is judged. */
const CLOCK_SKEW_MS = 5 * 60_000;
/** Ten years: a root CA outlives the devices it signs. */
export const DEFAULT_DAYS = 3650;
/** Aliases `ca create` derives live under this prefix, so one IAM condition can name them all. */
export const ALIAS_PREFIX = 'alias/iot-ca/';
/** KMS's alias rule (CreateAlias): letters, digits, `/_-`, at most 256 characters with `alias/`. */
const ALIAS_NAME = /^alias\/[a-zA-Z0-9/_-]{1,250}$/;

const usage = (name: string, message: string) => new CliError(name, message, 2);

const parseKind = (value: string | undefined): SignerKind => {
  const kind = value?.trim().toLowerCase();
  if (kind === 'kms' || kind === 'pca') return kind;
  throw usage(
    'UnsupportedSignerError',
    `--signer is "${value ?? ''}"; ca create makes a CA in kms (AWS KMS key, self-signed through Sign) or pca (AWS Private CA root).`,
  );
};

const parseKeySpec = (kind: SignerKind, value: string | undefined): KmsKeySpec | PcaKeyAlgorithm => {
  const specs = Object.keys(kind === 'kms' ? KMS_KEY_SPECS : PCA_KEY_ALGORITHMS);
  const wanted = value ?? (specs[0] as string);
  const spec = specs.find((known) => known.toLowerCase() === wanted.trim().toLowerCase());
  if (!spec) {
    throw usage(
      'UnsupportedKeySpecError',
      `--key-spec ${wanted} is not supported for a ${SERVICE_NAMES[kind]} CA: choose one of ${specs.join(', ')} (default ${specs[0]}), keys AWS IoT accepts for a CA.`,
    );
  }
  return spec as KmsKeySpec | PcaKeyAlgorithm;
};

const parseDays = (value: string | undefined): number => {
  if (value === undefined) return DEFAULT_DAYS;
  const days = Number(value);
  if (!Number.isInteger(days) || days < 1 || days > 36_500)
    throw usage('UsageError', `--days must be a whole number of days from 1 to 36500 (got "${value}").`);
  return days;
};

/** `alias/iot-ca/<the CN in lower case, other characters as ->`. */
export const aliasFor = (cn: string): string => {
  const slug = cn
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 200);
  return `${ALIAS_PREFIX}${slug || 'ca'}`;
};

const parseAlias = (value: string): string => {
  const alias = value.startsWith('alias/') ? value : `alias/${value}`;
  if (!ALIAS_NAME.test(alias) || alias.startsWith('alias/aws/'))
    throw usage(
      'InvalidAliasError',
      `--alias "${value}" is not a KMS alias name you can create (letters, digits, / _ -, not under alias/aws/).`,
    );
  return alias;
};

const defaultSubject = (kind: SignerKind, now: Date): DnPart[] => {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return [{ type: 'CN', value: `iot-ca ${kind.toUpperCase()} CA ${stamp}` }];
};

/** Refused before any key or CA exists: an existing file is never replaced without --force. */
const checkOut = (out: string, force: boolean): void => {
  const folder = dirname(out);
  if (!existsSync(folder) || !statSync(folder).isDirectory())
    throw new CliError('FileNotFoundError', `Cannot write ${out}: the folder ${folder} does not exist.`);
  if (!existsSync(out)) return;
  if (statSync(out).isDirectory()) throw new CliError('OutputExistsError', `--out ${out} is a folder; name a file.`);
  if (!force)
    throw new CliError(
      'OutputExistsError',
      `${out} exists; nothing was created. Choose another --out, or pass --force to replace it.`,
    );
};

export const caCreate = async (options: CaCreateOptions, global: GlobalOptions, out: Output): Promise<number> => {
  const now = new Date();
  const kind = parseKind(options.signer);
  if (!options.out) throw usage('UsageError', '--out <file> is required: where the CA certificate is written.');
  const keySpec = parseKeySpec(kind, options.keySpec);
  const days = parseDays(options.days);
  const subject = options.subject === undefined ? defaultSubject(kind, now) : parseSubject(options.subject);
  if (options.alias !== undefined && kind !== 'kms')
    throw usage('UsageError', '--alias names a KMS key; a Private CA is named by its ARN.');
  const alias = options.alias === undefined ? aliasFor(commonName(subject)) : parseAlias(options.alias);
  const file = resolve(options.out);
  checkOut(file, Boolean(options.force));

  const services = await signerServices(global, out);
  try {
    const made =
      kind === 'kms'
        ? await createKmsCa(services, { subject, keySpec: keySpec as KmsKeySpec, days, alias, now }, out.progress)
        : await createPcaCa(services, { subject, keyAlgorithm: keySpec as PcaKeyAlgorithm, days, now }, out.progress);
    let inspection: ReturnType<typeof inspectCaFile>;
    try {
      // The pipeline's own pre-flight: what it would refuse, refused here before a file exists.
      // Judged a few minutes ahead: Private CA dates the certificate by its own clock, which may
      // run ahead of this machine's (AWS IoT, judging it, keeps AWS's time).
      inspection = inspectCaFile(made.pem, new Date(Date.now() + CLOCK_SKEW_MS));
      writeFileSync(file, inspection.caPem, { flag: options.force ? 'w' : 'wx', mode: 0o644 });
    } catch (error) {
      const failure = error as Error;
      throw new CliError(
        failure.name === 'EEXIST' || (failure as NodeJS.ErrnoException).code === 'EEXIST'
          ? 'OutputExistsError'
          : failure.name && failure.name !== 'Error'
            ? failure.name
            : 'WriteError',
        `${failure.message} ${made.made}`,
      );
    }
    const local = services.where === 'local' ? ' --local' : '';
    out.result(
      { file: options.out, certificateId: inspection.certificateId, signer: made.signer },
      [
        `wrote ${options.out}: ${inspection.subject} (${inspection.key}, ${inspection.signatureAlgorithm}), valid until ${inspection.notAfter.slice(0, 10)}`,
        `certificateId  ${inspection.certificateId}`,
        `signer         ${made.signer}   (${made.holds})`,
        `register it:   iot-ca${local} drop ${options.out} --signer ${made.signer} --wait`,
      ].join('\n'),
    );
    return 0;
  } finally {
    await services.close();
  }
};
