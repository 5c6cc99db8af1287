/**
 * The IoT emulator on the wire: AWS's REST-JSON protocol as @aws-sdk/client-iot speaks it (paths,
 * query flags, JSON bodies, `x-amzn-ErrorType` errors), bound to 127.0.0.1 only.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IotEmulator } from './emulator.ts';
import { iotError } from './errors.ts';
import { OPERATION_ERRORS, type Operation } from './operations.ts';
import { answerable, listen, readBody, type RunningServer, send, sendError, signingKeyId, sleep } from './wire.ts';

export { listen, type RunningServer, signingKeyId } from './wire.ts';

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
  // ---- Device certificates, Things, policies and the data endpoint (registry.ts) ----
  {
    method: 'GET',
    pattern: /^\/certificates\/(?<id>[^/]+)$/,
    operation: 'DescribeCertificate',
    handler: (e, p) => e.devices.certificates.describe(p.id as string),
  },
  {
    method: 'PUT',
    pattern: /^\/certificates\/(?<id>[^/]+)$/,
    operation: 'UpdateCertificate',
    handler: (e, p, q) => e.devices.certificates.update(p.id as string, q),
  },
  {
    method: 'GET',
    pattern: /^\/certificates-by-ca\/(?<id>[^/]+)$/,
    operation: 'ListCertificatesByCA',
    handler: (e, p, q) => e.devices.certificates.listByCa(p.id as string, q),
  },
  {
    method: 'POST',
    pattern: /^\/certificate\/register$/,
    operation: 'RegisterCertificate',
    handler: (e, _p, q, body) => e.devices.certificates.register(q, body ?? {}),
  },
  {
    method: 'GET',
    pattern: /^\/things\/(?<name>[^/]+)$/,
    operation: 'DescribeThing',
    handler: (e, p) => e.devices.things.describe(p.name as string),
  },
  {
    method: 'GET',
    pattern: /^\/things\/(?<name>[^/]+)\/principals$/,
    operation: 'ListThingPrincipals',
    handler: (e, p, q) => e.devices.things.listPrincipals(p.name as string, q),
  },
  {
    method: 'GET',
    pattern: /^\/policies\/(?<name>[^/]+)$/,
    operation: 'GetPolicy',
    handler: (e, p) => e.devices.policies.get(p.name as string),
  },
  {
    method: 'POST',
    pattern: /^\/attached-policies\/(?<target>.+)$/,
    operation: 'ListAttachedPolicies',
    handler: (e, p, q) => e.devices.policies.listAttached(p.target as string, q),
  },
  {
    method: 'GET',
    pattern: /^\/endpoint$/,
    operation: 'DescribeEndpoint',
    handler: (e, _p, q) => e.devices.describeEndpoint(q),
  },
];

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

export const startIotServer = (emulator: IotEmulator, port = 0, authorize?: Authorize): Promise<RunningServer> =>
  listen((request, response) => void handleRequest(emulator, request, response, authorize), port);
