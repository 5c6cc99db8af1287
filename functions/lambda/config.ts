import { DEFAULT_EXPIRY_WARNING_DAYS } from '../core/expiry.ts';
import { PipelineError } from '../core/errors.ts';
import { parseCertificateMode, parseSigner, parseTags, parseTemplateName, type Defaults } from '../core/options.ts';
import { parseBoolean, parseDays, parseRetirePolicy, type RetireDefaults } from '../core/retire.ts';

/**
 * Deployment configuration, read once at init from the environment serverless.yml sets. A missing
 * or malformed variable fails the cold start with a named error, not the hundredth invocation.
 */
const env = (name: string, fallback?: string): string => {
  const value = process.env[name];
  if (value !== undefined && value !== '') return value;
  if (fallback !== undefined) return fallback;
  throw new PipelineError('InvalidOptionsError', `Environment variable ${name} is not set.`);
};

const asPrefix = (value: string): string => (value === '' || value.endsWith('/') ? value : `${value}/`);

export const readDefaults = (): Defaults => ({
  certificateMode: parseCertificateMode(env('DEFAULT_CERTIFICATE_MODE', 'DEFAULT'), 'DEFAULT_CERTIFICATE_MODE'),
  templateName: parseTemplateName(env('DEFAULT_TEMPLATE_NAME'), 'DEFAULT_TEMPLATE_NAME'),
  tags: parseTags(process.env.DEFAULT_TAGS ?? '', 'DEFAULT_TAGS'),
  // Empty: no default signer; each CA may still name one in its metadata.
  signer: process.env.DEFAULT_SIGNER?.trim() ? parseSigner(process.env.DEFAULT_SIGNER, 'DEFAULT_SIGNER') : undefined,
});

/** The one expiry threshold (serverless.yml `expiryWarningDays`): the pre-flight warns, reconciliation reports. */
export const readExpiryWarningDays = (): number => positive('EXPIRY_WARNING_DAYS', String(DEFAULT_EXPIRY_WARNING_DAYS));

export const readResultsPrefix = (): string => asPrefix(env('RESULTS_PREFIX', 'results/'));
export const readIncomingPrefix = (): string => asPrefix(env('INCOMING_PREFIX', 'incoming/'));

/**
 * What reconciliation does with an orphan (a CA whose object is gone): `report` only, or `retire`
 * it through retire-ca. `deactivate`, the value before retire-ca existed, is read as `retire`.
 */
export type OrphanPolicy = 'report' | 'retire';

export interface ReconcileConfig {
  registerCaStateMachineArn: string;
  /** Where orphans go under orphanPolicy `retire` (docs/adr/0025). */
  retireCaStateMachineArn: string;
  expiryWarningDays: number;
  orphanPolicy: OrphanPolicy;
  /** Repairs started within one window share an execution name: overlapping runs start each once. */
  windowMinutes: number;
  /** DescribeCACertificate and ListTagsForResource calls per second in the deep check, each. */
  deepCheckTps: number;
  /** CAs per deep-check chunk (one Map iteration, one Lambda invocation). */
  deepChunkSize: number;
  /** Uploads younger than this are left to their own flow (see planShallow). */
  graceMinutes: number;
}

const positive = (name: string, fallback: string, zero = false): number => {
  const value = Number(env(name, fallback));
  if (!(value > 0 || (zero && value === 0))) {
    throw new PipelineError(
      'InvalidOptionsError',
      `Environment variable ${name} must be a ${zero ? 'non-negative' : 'positive'} number.`,
    );
  }
  return value;
};

export const readReconcileConfig = (): ReconcileConfig => {
  const orphanPolicy = env('ORPHAN_POLICY', 'report');
  if (orphanPolicy !== 'report' && orphanPolicy !== 'retire' && orphanPolicy !== 'deactivate') {
    throw new PipelineError(
      'InvalidOptionsError',
      `ORPHAN_POLICY is "${orphanPolicy}"; expected report or retire (deactivate, its former name, means retire).`,
    );
  }
  return {
    registerCaStateMachineArn: env('REGISTER_CA_STATE_MACHINE_ARN'),
    // Only needed when orphans are retired: a stage that reports them works without it.
    retireCaStateMachineArn: process.env.RETIRE_CA_STATE_MACHINE_ARN ?? '',
    expiryWarningDays: readExpiryWarningDays(),
    orphanPolicy: orphanPolicy === 'report' ? 'report' : 'retire',
    windowMinutes: positive('RECONCILE_WINDOW_MINUTES', '60'),
    deepCheckTps: positive('DEEP_CHECK_TPS', '8'),
    deepChunkSize: positive('DEEP_CHUNK_SIZE', '2000'),
    graceMinutes: positive('RECONCILE_GRACE_MINUTES', '60', true),
  };
};

/** retire-ca's settings (serverless.yml params retirePolicy, retireDeleteAfterDays, ...; docs/adr/0025). */
export interface RetireConfig extends RetireDefaults {
  /** IoT calls per second each retire function makes, per operation (under the 10 TPS control-plane quota). */
  tps: number;
  /** How long one RevokeDeviceCertificates invocation revokes before handing the rest to the next. */
  revokeBudgetMs: number;
  /** The CA bucket, for a CA whose provenance tags name none (registered outside the pipeline). */
  bucket?: string;
  resultsPrefix: string;
}

export const readRetireConfig = (): RetireConfig => {
  const bucket = process.env.CA_BUCKET?.trim();
  return {
    policy: parseRetirePolicy(env('RETIRE_POLICY', 'deactivate'), 'RETIRE_POLICY'),
    deleteAfterDays: parseDays(env('RETIRE_DELETE_AFTER_DAYS', '30'), 'RETIRE_DELETE_AFTER_DAYS'),
    revokeDevices: parseBoolean(env('RETIRE_REVOKE_DEVICES', 'false'), 'RETIRE_REVOKE_DEVICES'),
    secondsPerDay: positive('RETIRE_SECONDS_PER_DAY', '86400', true),
    tps: positive('RETIRE_TPS', '8'),
    revokeBudgetMs: positive('RETIRE_REVOKE_BUDGET_MS', '60000'),
    ...(bucket ? { bucket } : {}),
    resultsPrefix: readResultsPrefix(),
  };
};
