import { PipelineError, isPipelineError } from './errors.ts';

/**
 * SDK retries are kept to one quick retry: the state machine owns backoff (with full jitter),
 * so the two layers do not multiply into minutes. See README "Retry budget".
 */
export const SDK_MAX_ATTEMPTS = 2;

interface AwsLikeError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
}

const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'SlowDown',
  'ProvisionedThroughputExceededException',
]);
const FAULTS = new Set([
  'ServiceUnavailableException',
  'ServiceUnavailable',
  'InternalFailureException',
  'InternalServerException',
  'InternalError',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET']);
const DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedException', 'Forbidden']);

export const awsErrorName = (error: unknown): string | undefined => (error as AwsLikeError | undefined)?.name;

/**
 * Turns what an AWS SDK call threw into the pipeline's contract: throttling and faults become the
 * two transient names the state machine retries, denials a business error. Anything else keeps
 * its identity (and so reaches the failure report as an unexpected error).
 */
export const classifyAwsError = (error: unknown, operation: string): unknown => {
  if (isPipelineError(error) || typeof error !== 'object' || error === null) return error;
  const aws = error as AwsLikeError;
  const name = aws.name ?? '';
  const status = aws.$metadata?.httpStatusCode ?? 0;
  const message = `${operation}: ${name}${aws.message ? `: ${aws.message}` : ''}`;
  if (THROTTLING.has(name) || status === 429 || aws.$retryable?.throttling) {
    return new PipelineError('ThrottledError', message, { cause: error });
  }
  if (FAULTS.has(name) || status >= 500 || NETWORK_CODES.has(aws.code ?? '') || NETWORK_CODES.has(name)) {
    return new PipelineError('ServiceFaultError', message, { cause: error });
  }
  if (DENIED.has(name) || status === 401 || status === 403) {
    return new PipelineError('AccessDeniedError', message, { cause: error });
  }
  return error;
};

/** Runs one SDK call and classifies what it throws; `operation` names the call in messages. */
export const awsCall = async <T>(operation: string, call: () => Promise<T>): Promise<T> => {
  try {
    return await call();
  } catch (error) {
    throw classifyAwsError(error, operation);
  }
};
