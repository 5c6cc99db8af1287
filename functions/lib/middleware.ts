import middy, { type MiddlewareObj } from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Context } from 'aws-lambda';
import { classifyAwsError } from './aws-errors.ts';
import { logger } from './logger.ts';
import { redactKeyMaterial } from './redact.ts';
import type { StepInput } from './types.ts';

/**
 * Appends the execution id to every log line and makes sure what leaves the function is a named
 * error: SDK throttling and faults become the transient names the state machine retries.
 */
const stepErrors = (): MiddlewareObj<StepInput, unknown, Error> => ({
  before: (request) => {
    if (typeof request.event?.executionId === 'string') logger.appendKeys({ executionId: request.event.executionId });
  },
  onError: (request) => {
    const error = classifyAwsError(request.error, 'AWS call') as Error;
    request.error = error;
    logger.error('step failed', { errorName: error.name, errorMessage: redactKeyMaterial(error.message ?? '') });
  },
});

/** Wraps a step's core in the shared middleware: every handler is `export const handler = step(main)`. */
export const step = <TInput extends StepInput, TOutput>(main: (input: TInput) => Promise<TOutput>) =>
  middy<TInput, TOutput, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(stepErrors() as MiddlewareObj<TInput, TOutput, Error, Context>)
    .handler((event: TInput) => main(event));
