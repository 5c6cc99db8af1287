/**
 * AWS IoT's errors as the REST-JSON protocol carries them: a name (`x-amzn-ErrorType`), an HTTP
 * status and a message (AWS-IOT-RULES.md "Errors on the wire"). Which operation may answer which
 * of them is `operations.ts`'s table, not this file's concern.
 */

/** Each error's HTTP status, as AWS's API reference gives it. */
export const ERROR_STATUS = {
  CertificateValidationException: 400,
  RegistrationCodeValidationException: 400,
  InvalidRequestException: 400,
  ThrottlingException: 400,
  UnauthorizedException: 401,
  AccessDeniedException: 403,
  MissingAuthenticationTokenException: 403,
  ResourceNotFoundException: 404,
  CertificateStateException: 406,
  ResourceAlreadyExistsException: 409,
  CertificateConflictException: 409,
  LimitExceededException: 410,
  InternalFailureException: 500,
  NotImplementedException: 501,
  ServiceUnavailableException: 503,
} as const;

export type IotErrorName = keyof typeof ERROR_STATUS;

/** An error as AWS IoT returns it: name (x-amzn-ErrorType), HTTP status, message, extra fields. */
export class IotError extends Error {
  constructor(
    override readonly name: string,
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The error `name` with the status AWS gives it. */
export const iotError = (name: IotErrorName, message: string, extra: Record<string, unknown> = {}): IotError =>
  new IotError(name, ERROR_STATUS[name], message, extra);

export const invalid = (message: string): IotError => iotError('InvalidRequestException', message);
export const notFound = (message: string): IotError => iotError('ResourceNotFoundException', message);
export const certificateInvalid = (message: string): IotError => iotError('CertificateValidationException', message);
export const limitExceeded = (message: string): IotError => iotError('LimitExceededException', message);
