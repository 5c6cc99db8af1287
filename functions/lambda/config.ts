import { DEFAULT_EXPIRY_WARNING_DAYS } from '../core/expiry.ts';
import { PipelineError } from '../core/errors.ts';
import { parseCertificateMode, parseSigner, parseTags, parseTemplateName, type Defaults } from '../core/options.ts';

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

export type OrphanPolicy = 'report' | 'deactivate';

export interface ReconcileConfig {
  registerCaStateMachineArn: string;
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
  if (orphanPolicy !== 'report' && orphanPolicy !== 'deactivate') {
    throw new PipelineError(
      'InvalidOptionsError',
      `ORPHAN_POLICY is "${orphanPolicy}"; expected report or deactivate.`,
    );
  }
  return {
    registerCaStateMachineArn: env('REGISTER_CA_STATE_MACHINE_ARN'),
    expiryWarningDays: readExpiryWarningDays(),
    orphanPolicy,
    windowMinutes: positive('RECONCILE_WINDOW_MINUTES', '60'),
    deepCheckTps: positive('DEEP_CHECK_TPS', '8'),
    deepChunkSize: positive('DEEP_CHUNK_SIZE', '2000'),
    graceMinutes: positive('RECONCILE_GRACE_MINUTES', '60', true),
  };
};
