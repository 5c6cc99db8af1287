import { PipelineError } from './errors.ts';
import { parseCertificateMode, parseTags, parseTemplateName, type Defaults } from './options.ts';

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
});

export const readResultsPrefix = (): string => asPrefix(env('RESULTS_PREFIX', 'results/'));
export const readIncomingPrefix = (): string => asPrefix(env('INCOMING_PREFIX', 'incoming/'));
