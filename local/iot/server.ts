/**
 * The IoT emulator on the wire: AWS's REST-JSON protocol as @aws-sdk/client-iot speaks it (paths,
 * query flags, JSON bodies, `x-amzn-ErrorType` errors), bound to 127.0.0.1 only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type IotEmulator, IotError, type Operation } from './emulator.ts';

const MAX_BODY_BYTES = 1024 * 1024;

type Handler = (
  emulator: IotEmulator,
  params: Record<string, string>,
  query: Record<string, string>,
  body: any,
) => unknown;

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
        reject(new IotError('InvalidRequestException', 400, 'Request body too large.'));
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
  try {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const route = routes.find(
      (candidate) => candidate.method === request.method && candidate.pattern.test(url.pathname),
    );
    if (!route) {
      throw new IotError(
        'NotImplementedException',
        501,
        `The local IoT emulator does not implement ${request.method} ${url.pathname}.`,
      );
    }
    // The SDK always signs; an unsigned request is what AWS refuses as unauthorized.
    if (!/^AWS4-HMAC-SHA256 /.test(request.headers.authorization ?? '')) {
      throw new IotError('UnauthorizedException', 401, 'Missing or invalid SigV4 Authorization header.');
    }
    const text = await readBody(request);
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      throw new IotError('InvalidRequestException', 400, 'The request body is not valid JSON.');
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
    const result = route.handler(emulator, params, query, body);
    await Promise.all(emulator.takeWrites());
    send(response, 200, result);
  } catch (error) {
    if (error instanceof IotError) sendError(response, error);
    else
      sendError(response, new IotError('InternalFailureException', 500, `Emulator error: ${(error as Error).message}`));
  }
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
