/**
 * AWS's JSON 1.1 wire as KMS and Private CA speak it: `POST /` with `X-Amz-Target:
 * <Prefix>.<Operation>`, a JSON body, JSON answers, and errors as `{"__type": name, "message"}`
 * with the HTTP status the service's model gives each error. Bound to 127.0.0.1 only.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listen, readRequestBody, type RunningServer, signingKeyId } from './iot/wire.ts';

const CONTENT_TYPE = 'application/x-amz-json-1.1';

/** An error as a JSON 1.1 service answers it: `__type`, HTTP status and message. */
export class AwsJsonError extends Error {
  constructor(
    override readonly name: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Errors every JSON 1.1 service answers from its front end, before an operation runs: they are in
 * no operation's model (AWS's "common errors"), and all are 400.
 */
export const FRONT_END_ERRORS = [
  'AccessDeniedException',
  'MissingAuthenticationTokenException',
  'SerializationException',
  'UnknownOperationException',
  'ValidationException',
] as const;

export type FrontEndError = (typeof FRONT_END_ERRORS)[number];

export const frontEndError = (name: FrontEndError, message: string): AwsJsonError =>
  new AwsJsonError(name, 400, message);

/** `1 validation error detected: Value 'x' at 'field' failed to satisfy constraint: ...`, as AWS words it. */
export const validationError = (field: string, value: unknown, constraint: string): AwsJsonError =>
  frontEndError(
    'ValidationException',
    `1 validation error detected: Value ${value === undefined ? 'null' : `'${String(value)}'`} at '${field}' failed to satisfy constraint: ${constraint}`,
  );

/** A required member's value, or the ValidationException AWS answers when it is missing. */
export const required = <T>(body: Record<string, unknown>, member: string, field = member): T => {
  const value = body[member];
  if (value === undefined || value === null || value === '')
    throw validationError(field, undefined, 'Member must not be null');
  return value as T;
};

/** An enum member's value (or its default), or ValidationException listing the values it takes. */
export const oneOf = <T extends string>(
  body: Record<string, unknown>,
  member: string,
  values: readonly T[],
  fallback?: T,
): T => {
  const value = body[member] ?? fallback;
  if (value === undefined) throw validationError(lowerFirst(member), undefined, 'Member must not be null');
  if (!values.includes(value as T))
    throw validationError(lowerFirst(member), value, `Member must satisfy enum value set: [${values.join(', ')}]`);
  return value as T;
};

const lowerFirst = (name: string) => name.charAt(0).toLowerCase() + name.slice(1);

/** A blob member (base64 on the wire) as bytes, or ValidationException. */
export const blob = (body: Record<string, unknown>, member: string): Buffer => {
  const value = required<unknown>(body, member, lowerFirst(member));
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value))
    throw frontEndError('SerializationException', `${member} is not a base64-encoded blob.`);
  return Buffer.from(value, 'base64');
};

/** Whoever signed the call (SigV4's access key id) and what it asks: a denial's message, or undefined. */
export type AuthorizeJson = (
  accessKeyId: string,
  operation: string,
  body: Record<string, unknown>,
) => string | undefined;

export interface Json11Service {
  /** `TrentService` (KMS), `ACMPrivateCA` (Private CA). */
  targetPrefix: string;
  /** How the service names itself in "does not implement" answers. */
  title: string;
  operations: Record<string, (body: Record<string, any>) => unknown>;
  /**
   * The error to answer for what an operation threw: the service maps anything its operation's
   * model does not list to its internal error, so that no operation answers outside its model.
   */
  answerable: (operation: string | undefined, error: unknown) => AwsJsonError;
}

const send = (response: ServerResponse, status: number, body: unknown): void => {
  const text = JSON.stringify(body ?? {});
  response.writeHead(status, {
    'content-type': CONTENT_TYPE,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': crypto.randomUUID(),
  });
  response.end(text);
};

const readBody = (request: IncomingMessage): Promise<string> =>
  readRequestBody(request, () => frontEndError('SerializationException', 'Request body too large.'));

export const handleJson11 = async (
  service: Json11Service,
  request: IncomingMessage,
  response: ServerResponse,
  authorize?: AuthorizeJson,
): Promise<void> => {
  let operation: string | undefined;
  try {
    const target = String(request.headers['x-amz-target'] ?? '');
    const name = target.startsWith(`${service.targetPrefix}.`) ? target.slice(service.targetPrefix.length + 1) : '';
    const run = Object.hasOwn(service.operations, name) ? service.operations[name] : undefined;
    if (request.method !== 'POST' || !run)
      throw frontEndError(
        'UnknownOperationException',
        `The local ${service.title} does not implement ${target || `${request.method} ${request.url}`}.`,
      );
    if (!/^AWS4-HMAC-SHA256 /.test(request.headers.authorization ?? ''))
      throw frontEndError('MissingAuthenticationTokenException', 'Missing or invalid SigV4 Authorization header.');
    const text = await readBody(request);
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      throw frontEndError('SerializationException', 'The request body is not valid JSON.');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw frontEndError('SerializationException', 'The request body is not a JSON object.');
    operation = name;
    const denial = authorize?.(signingKeyId(request.headers.authorization), name, body as Record<string, unknown>);
    if (denial) throw frontEndError('AccessDeniedException', denial);
    send(response, 200, await run(body as Record<string, unknown>));
  } catch (error) {
    const answer = service.answerable(operation, error);
    send(response, answer.status, { __type: answer.name, message: answer.message });
  }
};

export const startJson11Server = (
  service: Json11Service,
  port = 0,
  authorize?: AuthorizeJson,
): Promise<RunningServer> =>
  listen((request, response) => void handleJson11(service, request, response, authorize), port);

export type { RunningServer };
