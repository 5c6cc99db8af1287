import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';
import { PipelineError, isPipelineError } from '../core/errors.ts';

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
}

/**
 * Smithy's list calls LimitExceededException throttling; AWS IoT answers it (410) for a business
 * limit — 10 CAs with one subject, 50 tags — which no amount of waiting lifts.
 */
const NOT_THROTTLING = new Set(['LimitExceededException']);
// Socket errors undici and Node raise that smithy's lists do not name.
const MORE_NETWORK_CODES = new Set(['UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);
const DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedException', 'Forbidden']);

type SdkError = Parameters<typeof isThrottlingError>[0];

export const awsErrorName = (error: unknown): string | undefined => (error as AwsLikeError | undefined)?.name;

/**
 * Turns what an AWS SDK call threw into the pipeline's contract: throttling and transient faults
 * (as the SDK's own retry strategy classifies them, `@smithy/core/retry`) become the two names the
 * state machine retries, denials a business error. Anything else keeps its identity (and so
 * reaches the failure report as an unexpected error, or is mapped by the caller).
 */
export const classifyAwsError = (error: unknown, operation: string): unknown => {
  if (isPipelineError(error) || typeof error !== 'object' || error === null) return error;
  const aws = error as AwsLikeError;
  const sdkError = error as SdkError;
  const name = aws.name ?? '';
  const status = aws.$metadata?.httpStatusCode ?? 0;
  const message = `${operation}: ${name}${aws.message ? `: ${aws.message}` : ''}`;
  if (isThrottlingError(sdkError) && !NOT_THROTTLING.has(name)) {
    return new PipelineError('ThrottledError', message, { cause: error });
  }
  if (isServerError(sdkError) || isTransientError(sdkError) || MORE_NETWORK_CODES.has(aws.code ?? name)) {
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

/** The pages of one of the SDK's paginators, each page's failure classified as awsCall does. */
export async function* awsPages<T>(operation: string, pages: AsyncIterable<T>): AsyncGenerator<T> {
  const iterator = pages[Symbol.asyncIterator]();
  for (;;) {
    const next = await awsCall(operation, () => iterator.next());
    if (next.done) return;
    yield next.value;
  }
}
