import { PipelineError } from './errors.ts';

/** A step's input is the state machine's Parameters: a missing field is a wiring bug, named as such. */
export const requireString = (value: unknown, field: string): string => {
  if (typeof value !== 'string' || value === '') {
    throw new PipelineError('InvalidInputError', `The step input has no "${field}".`);
  }
  return value;
};

export const requireObject = <T extends object>(value: unknown, field: string): T => {
  if (typeof value !== 'object' || value === null) {
    throw new PipelineError('InvalidInputError', `The step input has no "${field}" object.`);
  }
  return value as T;
};
