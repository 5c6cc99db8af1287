/**
 * The IoT emulator on the wire: AWS's REST-JSON protocol as @aws-sdk/client-iot speaks it (paths,
 * query flags, JSON bodies, `x-amzn-ErrorType` errors), bound to 127.0.0.1 only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IotEmulator } from './emulator.ts';
import { IotError, iotError } from './errors.ts';
import { mayAnswer, OPERATION_ERRORS, type Operation } from './operations.ts';

const MAX_BODY_BYTES = 1024 * 1024;

type Handler = (
  emulator: IotEmulator,
  params: Record<string, string>,
  query: Record<string, string>,
  body: any,
) => unknown | Promise<unknown>;

interface Route {
  method: string;
  pattern: RegExp;
  operation: Operation;
  handler: Handler;
}

const routes: Route[] = [
  {
    method: 'GET',
    pattern: /^\/registrationcode$/,
    operation: 'GetRegistrationCode',
    handler: (e) => e.getRegistrationCode(),
  },
  {
    method: 'DELETE',
    pattern: /^\/registrationcode$/,
    operation: 'DeleteRegistrationCode',
    handler: (e) => e.deleteRegistrationCode(),
  },
  {
    method: 'POST',
    pattern: /^\/cacertificate$/,
    operation: 'RegisterCACertificate',
    handler: (e, _p, q, body) =>
      e.registerCaCertificate({
        ...body,
        setAsActive: q.setAsActive === 'true',
        allowAutoRegistration: q.allowAutoRegistration === 'true',
      }),
  },
  {
    method: 'GET',
    pattern: /^\/cacertificate\/(?<id>[^/]+)$/,
    operation: 'DescribeCACertificate',
    handler: (e, p) => e.describeCaCertificate(p.id as string),
  },
  {
    method: 'PUT',
    pattern: /^\/cacertificate\/(?<id>[^/]+)$/,
    operation: 'UpdateCACertificate',
    handler: (e, p, q, body) => e.updateCaCertificate(p.id as string, q, body ?? {}),
  },
  {
    method: 'DELETE',
    pattern: /^\/cacertificate\/(?<id>[^/]+)$/,
    operation: 'DeleteCACertificate',
    handler: (e, p) => e.deleteCaCertificate(p.id as string),
  },
  {
    method: 'GET',
    pattern: /^\/cacertificates$/,
    operation: 'ListCACertificates',
    handler: (e, _p, q) => e.listCaCertificates(q),
  },
  {
    method: 'POST',
    pattern: /^\/tags$/,
    operation: 'TagResource',
    handler: (e, _p, _q, body) => e.tagResource(body ?? {}),
  },
  {
    method: 'POST',
    pattern: /^\/untag$/,
    operation: 'UntagResource',
    handler: (e, _p, _q, body) => e.untagResource(body ?? {}),
  },
  {
    method: 'GET',
    pattern: /^\/tags$/,
    operation: 'ListTagsForResource',
    handler: (e, _p, q) => e.listTagsForResource(q),
  },
  {
    method: 'POST',
    pattern: /^\/provisioning-templates$/,
    operation: 'CreateProvisioningTemplate',
    handler: (e, _p, _q, body) => e.createProvisioningTemplate(body ?? {}),
  },
  {
    method: 'GET',
    pattern: /^\/provisioning-templates$/,
    operation: 'ListProvisioningTemplates',
    handler: (e, _p, q) => e.listProvisioningTemplates(q),
  },
  {
    method: 'GET',
    pattern: /^\/provisioning-templates\/(?<name>[^/]+)$/,
    operation: 'DescribeProvisioningTemplate',
    handler: (e, p) => e.describeProvisioningTemplate(p.name as string),
  },
];

const send = (response: ServerResponse, status: number, body: unknown, errorType?: string): void => {
  const text = JSON.stringify(body ?? {});
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': crypto.randomUUID(),
    ...(errorType ? { 'x-amzn-ErrorType': errorType } : {}),
  });
  response.end(text);
};

const sendError = (response: ServerResponse, error: IotError): void =>
  send(response, error.status, { message: error.message, ...error.extra }, error.name);

const readBody = (request: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(iotError('InvalidRequestException', 'Request body too large.'));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A signed call as IAM sees it: who signed it (SigV4's access key id) and what it asks for. */
export interface IotCall {
  operation: Operation;
  accessKeyId: string;
  params: Record<string, string>;
  query: Record<string, string>;
  body: any;
}

/** Throws the IotError AWS answers (AccessDeniedException) when the caller may not make the call. */
export type Authorize = (call: IotCall) => void;

/** The access key id in a SigV4 Authorization header (`Credential=AKID/date/region/service/...`). */
export const signingKeyId = (authorization: string | undefined): string =>
  /Credential=([^/,\s]+)\//.exec(authorization ?? '')?.[1] ?? '';

export const handleRequest = async (
  emulator: IotEmulator,
  request: IncomingMessage,
  response: ServerResponse,
  authorize?: Authorize,
): Promise<void> => {
  let operation: Operation | undefined;
  try {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const route = routes.find(
      (candidate) => candidate.method === request.method && candidate.pattern.test(url.pathname),
    );
    if (!route) {
      throw iotError(
        'NotImplementedException',
        `The local IoT emulator does not implement ${request.method} ${url.pathname}.`,
      );
    }
    operation = route.operation;
    // The SDK always signs; an unsigned request is refused as unauthorized, by the operation where
    // its model lists UnauthorizedException, else by the front end (AWS's common error).
    if (!/^AWS4-HMAC-SHA256 /.test(request.headers.authorization ?? '')) {
      throw iotError(
        OPERATION_ERRORS[operation].includes('UnauthorizedException')
          ? 'UnauthorizedException'
          : 'MissingAuthenticationTokenException',
        'Missing or invalid SigV4 Authorization header.',
      );
    }
    const text = await readBody(request);
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      throw iotError('InvalidRequestException', 'The request body is not valid JSON.');
    }
    const params = Object.fromEntries(
      Object.entries(route.pattern.exec(url.pathname)?.groups ?? {}).map(([k, v]) => [k, decodeURIComponent(v)]),
    );
    const query = Object.fromEntries(url.searchParams.entries());
    authorize?.({
      operation: route.operation,
      accessKeyId: signingKeyId(request.headers.authorization),
      params,
      query,
      body,
    });
    if (emulator.faults.latencyMs) await sleep(emulator.faults.latencyMs);
    emulator.admit(route.operation);
    const result = await emulator.durably(() => route.handler(emulator, params, query, body));
    send(response, 200, result);
  } catch (error) {
    sendError(response, answerable(operation, error));
  }
};

/**
 * The error to answer: `error` itself if the operation may return it (operations.ts), else an
 * InternalFailureException naming the emulator's mistake, which every operation's model lists.
 */
const answerable = (operation: Operation | undefined, error: unknown): IotError => {
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

export const startIotServer = (emulator: IotEmulator, port = 0, authorize?: Authorize): Promise<RunningServer> =>
  listen((request, response) => void handleRequest(emulator, request, response, authorize), port);
