import { describe, expect, it } from 'vitest';
import { classifyAwsError } from '../../functions/aws/sdk-errors.ts';
import { PipelineError } from '../../functions/core/errors.ts';

const sdkError = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${name} from the service`), {
    name,
    ...(status ? { $metadata: { httpStatusCode: status } } : {}),
    ...extra,
  });
const classified = (error: unknown) => {
  const result = classifyAwsError(error, 'Op');
  return result instanceof PipelineError ? result.name : 'unchanged';
};

describe('classifyAwsError: SDK errors into the state machine contract', () => {
  it.each([
    ['ThrottlingException', 400],
    ['TooManyRequestsException', 429],
    ['SlowDown', 503],
    ['RequestLimitExceeded', 400],
  ])('%s (%i) is ThrottledError', (name, status) => {
    expect(classified(sdkError(name, status))).toBe('ThrottledError');
  });

  it("keeps IoT's LimitExceededException (410: 10 CAs per subject) out of throttling: waiting never lifts it", () => {
    expect(classified(sdkError('LimitExceededException', 410))).toBe('unchanged');
  });

  it.each([
    ['ServiceUnavailableException', 503],
    ['InternalFailureException', 500],
    ['InternalError', 500],
    ['BadGateway', 502],
    ['TimeoutError', undefined],
  ])('%s (%s) is ServiceFaultError', (name, status) => {
    expect(classified(sdkError(name, status))).toBe('ServiceFaultError');
  });

  it.each(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EAI_AGAIN', 'UND_ERR_SOCKET'])(
    'a socket error %s is ServiceFaultError',
    (code) => {
      expect(classified(sdkError('Error', undefined, { code }))).toBe('ServiceFaultError');
    },
  );

  it.each([
    ['AccessDeniedException', 403],
    ['UnauthorizedException', 401],
    ['Forbidden', 403],
  ])('%s (%i) is AccessDeniedError', (name, status) => {
    expect(classified(sdkError(name, status))).toBe('AccessDeniedError');
  });

  it.each([
    ['ResourceNotFoundException', 404],
    ['ResourceAlreadyExistsException', 409],
    ['CertificateValidationException', 400],
    ['InvalidRequestException', 400],
  ])('leaves %s (%i) to the caller, which maps it to a business error', (name, status) => {
    expect(classified(sdkError(name, status))).toBe('unchanged');
  });

  it('keeps the original error as the cause and names the operation in the message', () => {
    const original = sdkError('ThrottlingException', 400);
    const result = classifyAwsError(original, 'RegisterCACertificate') as PipelineError;
    expect(result.cause).toBe(original);
    expect(result.message).toBe('RegisterCACertificate: ThrottlingException: ThrottlingException from the service');
  });
});
