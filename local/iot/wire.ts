/**
 * AWS's REST-JSON wire as the local servers speak it: JSON answers, `x-amzn-ErrorType` errors, a
 * bounded body, SigV4's access key id, and a server bound to 127.0.0.1 only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { IotError, iotError } from './errors.ts';
import { mayAnswer, type Operation } from './operations.ts';

export const send = (response: ServerResponse, status: number, body: unknown, errorType?: string): void => {
  const text = JSON.stringify(body ?? {});
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': crypto.randomUUID(),
    ...(errorType ? { 'x-amzn-ErrorType': errorType } : {}),
  });
  response.end(text);
};

export const sendError = (response: ServerResponse, error: IotError): void =>
  send(response, error.status, { message: error.message, ...error.extra }, error.name);

/** A request's body, up to 1 MiB: more is InvalidRequestException. */
export const readBody = (request: IncomingMessage): Promise<string> =>
  readRequestBody(request, () => iotError('InvalidRequestException', 'Request body too large.'));

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The access key id in a SigV4 Authorization header (`Credential=AKID/date/region/service/...`). */
export const signingKeyId = (authorization: string | undefined): string =>
  /Credential=([^/,\s]+)\//.exec(authorization ?? '')?.[1] ?? '';

/**
 * The error to answer: `error` itself if the operation may return it (operations.ts), else an
 * InternalFailureException naming the emulator's mistake, which every operation's model lists.
 */
export const answerable = (operation: Operation | undefined, error: unknown): IotError => {
  if (!(error instanceof IotError))
    return iotError('InternalFailureException', `Emulator error: ${(error as Error).message}`);
  if (operation === undefined || mayAnswer(operation, error.name)) return error;
  return iotError(
    'InternalFailureException',
    `Emulator error: ${operation} answered ${error.name} (${error.message}), which its model does not list.`,
  );
};

export interface RunningServer {
  server: Server;
  url: string;
  close: () => Promise<void>;
}

/** Listens on 127.0.0.1 (port 0 = any free port). */
export const listen = (
  handler: (request: IncomingMessage, response: ServerResponse) => void,
  port = 0,
): Promise<RunningServer> =>
  new Promise((resolve, reject) => {
    const server = createServer(handler);
    server.keepAliveTimeout = 5_000;
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address() as AddressInfo;
      resolve({
        server,
        url: `http://127.0.0.1:${address.port}`,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });

/**
 * A request's body as text, refused past `maxBytes` with the error the caller's wire answers
 * (each service words "too large" its own way).
 */
export const readRequestBody = (
  request: IncomingMessage,
  tooLarge: () => Error,
  maxBytes = 1024 * 1024,
): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(tooLarge());
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
