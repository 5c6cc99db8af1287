import middy, { type MiddlewareObj } from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Context } from 'aws-lambda';
import type * as z from 'zod/mini';
import { classifyAwsError } from '../aws/sdk-errors.ts';
import { PipelineError } from '../core/errors.ts';
import { logger } from './logger.ts';
import { redactKeyMaterial } from '../core/redact.ts';
import { describeIssues } from '../core/schemas.ts';

/**
 * Appends the execution id to every log line and makes sure what leaves the function is a named
 * error: SDK throttling and faults become the transient names the state machine retries.
 */
const stepErrors = (): MiddlewareObj<{ executionId?: string }, unknown, Error> => ({
  before: (request) => {
    if (typeof request.event?.executionId === 'string') logger.appendKeys({ executionId: request.event.executionId });
  },
  onError: (request) => {
    const error = classifyAwsError(request.error, 'AWS call') as Error;
    request.error = error;
    logger.error('step failed', { errorName: error.name, errorMessage: redactKeyMaterial(error.message ?? '') });
  },
});

/** A step returned what its output schema does not allow: a bug, reported as unexpected. */
class StepOutputError extends Error {
  override readonly name = 'StepOutputError';
}

export interface StepSchemas<I extends z.ZodMiniType, O extends z.ZodMiniType> {
  input: I;
  output: O;
}

/**
 * Wraps a step's core in the shared middleware: every handler is
 * `export const handler = step({ input, output }, (event) => core(deps, event))`. The input is
 * parsed by its schema (a wiring mistake in the ASL is an InvalidInputError naming the field),
 * and so is the output, so the next step and the result contract get what they were promised.
 */
export const step = <I extends z.ZodMiniType, O extends z.ZodMiniType>(
  schemas: StepSchemas<I, O>,
  main: (input: z.infer<I>) => Promise<z.infer<O>>,
) =>
  middy<unknown, z.infer<O>, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(stepErrors() as MiddlewareObj<unknown, z.infer<O>, Error, Context>)
    .handler(async (event: unknown) => {
      const input = schemas.input.safeParse(event);
      if (!input.success)
        throw new PipelineError(
          'InvalidInputError',
          `The step input is not what this step takes: ${describeIssues(input.error)}.`,
        );
      const output = schemas.output.safeParse(await main(input.data));
      if (!output.success)
        throw new StepOutputError(`The step's output breaks its schema: ${describeIssues(output.error)}.`);
      return output.data;
    });
