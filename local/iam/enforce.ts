/**
 * IAM at the local endpoints: the IoT server's authorize hook, the Step Functions server's, and a
 * middleware in front of s3rver, each answering a denial as that service does on AWS.
 */
import { type App, LOCAL_ACCOUNT, type TaskBinding } from '../app.ts';
import { IotError } from '../iot/emulator.ts';
import { type Authorize, signingKeyId } from '../iot/server.ts';
import type { AuthorizeSfn } from '../sfn/server.ts';
import type { AuthorizeJson } from '../json11.ts';
import type { FunctionIdentity } from '../lambda/workers.ts';
import { type Denial, IamGuard, type Principal } from './guard.ts';
import {
  eventsRequests,
  iotRequests,
  kmsRequests,
  pcaRequests,
  type Place,
  s3Requests,
  sfnRequests,
} from './requests.ts';
import { type Role, rolesOf } from './roles.ts';

/** Issues each function an access key naming its role (serverless.yml `role:`). */
const functionIdentities = (app: App, guard: IamGuard, roles: Record<string, Role>): Map<string, FunctionIdentity> => {
  const identities = new Map<string, FunctionIdentity>();
  for (const fn of Object.values(app.functions)) {
    const role = fn.role ? roles[fn.role] : undefined;
    // A function without a role of its own here would run with the Framework's shared role: none.
    const principal = {
      roleArn: role?.arn ?? `arn:aws:iam::${LOCAL_ACCOUNT}:role/${app.service}-${app.stage}-lambdaRole`,
      sessionName: fn.name,
      policies: role?.policies ?? [],
    };
    identities.set(fn.key, guard.issue(principal));
  }
  return identities;
};

export const iotAuthorizer =
  (guard: IamGuard, place: Place): Authorize =>
  (call) => {
    const denial = guard.checkKey(call.accessKeyId, iotRequests(call, place));
    if (denial) throw new IotError('AccessDeniedException', 403, denial.message);
  };

export const sfnAuthorizer =
  (guard: IamGuard): AuthorizeSfn =>
  (accessKeyId, operation, body) =>
    guard.checkKey(accessKeyId, sfnRequests(operation, body))?.message;

/** KMS and Private CA answer a denial as AccessDeniedException (json11.ts). */
export const kmsAuthorizer =
  (guard: IamGuard, place: Place, keyArnOf: (keyId: unknown) => string | undefined): AuthorizeJson =>
  (accessKeyId, operation, body) =>
    guard.checkKey(accessKeyId, kmsRequests(operation, body, place, keyArnOf))?.message;

/** EventBridge answers a denied PutEvents as AccessDeniedException for the whole call (json11.ts). */
export const eventsAuthorizer =
  (guard: IamGuard, place: Place): AuthorizeJson =>
  (accessKeyId, operation, body) =>
    guard.checkKey(accessKeyId, eventsRequests(operation, body, place))?.message;

export const pcaAuthorizer =
  (guard: IamGuard): AuthorizeJson =>
  (accessKeyId, operation, body) =>
    guard.checkKey(accessKeyId, pcaRequests(operation, body))?.message;

interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  headers: Record<string, string | string[] | undefined>;
  status: number;
  body: unknown;
  type: string;
  set(name: string, value: string): void;
}

const xmlEscape = (text: string) =>
  text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c);

const accessDenied = (ctx: KoaContext, message: string) => {
  ctx.status = 403;
  ctx.type = 'application/xml';
  ctx.body =
    ctx.method === 'HEAD'
      ? ''
      : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>${xmlEscape(message)}</Message></Error>`;
};

/** A Koa middleware for s3rver: runs before its own authentication and routing. */
export const s3Authorizer =
  (guard: IamGuard) =>
  async (ctx: KoaContext, next: () => Promise<void>): Promise<void> => {
    const credential = String(ctx.query['X-Amz-Credential'] ?? '').split('/')[0];
    const principal = guard.principalOf(signingKeyId(String(ctx.headers.authorization ?? '')) || credential || '');
    if (!guard.enabled || !principal) return next();
    const [bucket = '', ...rest] = ctx.path.replace(/^\//, '').split('/');
    const key = rest.length ? decodeURIComponent(rest.join('/')) : undefined;
    const call = {
      method: ctx.method,
      bucket: decodeURIComponent(bucket),
      key,
      query: ctx.query,
      headers: ctx.headers,
    };
    const denial = guard.check(principal, s3Requests(call));
    if (denial) return accessDenied(ctx, denial.message);
    // Without s3:ListBucket, S3 answers a missing key with 403, so as not to tell what exists.
    const hidden = () =>
      key !== undefined && (ctx.method === 'GET' || ctx.method === 'HEAD')
        ? guard.check(principal, s3Requests({ ...call, key: undefined, query: { prefix: key } }), false)
        : undefined;
    try {
      await next();
    } catch (error) {
      // s3rver raises its S3 errors (NoSuchKey: status 404) through the middleware chain.
      const denial = (error as { status?: number }).status === 404 ? hidden() : undefined;
      if (!denial) throw error;
      return accessDenied(ctx, denial.message);
    }
    const concealed = ctx.status === 404 ? hidden() : undefined;
    if (concealed) accessDenied(ctx, concealed.message);
  };

/** The role a property names (`RoleArn: !GetAtt X.Arn` arrives as the text "X.Arn"), as a principal. */
const rolePrincipal = (roles: Record<string, Role>, roleRef: unknown, sessionName: string): Principal => {
  const role = roles[String(roleRef ?? '').replace(/\.Arn$/, '')];
  return {
    roleArn: role?.arn ?? `arn:aws:iam::${LOCAL_ACCOUNT}:role/${String(roleRef)}`,
    sessionName,
    policies: role?.policies ?? [],
  };
};

/** IAM as the local stack runs it: the functions' identities and the service roles' checks. */
export interface LocalIam {
  guard: IamGuard;
  identityOf: (functionKey: string) => FunctionIdentity;
  /**
   * For a state machine (logical id): the key its role signs AWS SDK integrations with, so that
   * the endpoints judge those calls against the role's statements (one key per state machine).
   */
  stateMachineIdentity: (stateMachineId: string) => FunctionIdentity;
  /** For a state machine (logical id): may its role invoke this Task's function? */
  invokeCheck: (stateMachineId: string) => (binding: TaskBinding) => string | undefined;
  /** For an EventBridge rule (logical id): may its target's role (first target by default) start this state machine? */
  startCheck: (ruleId: string, stateMachineArn: string, targetIndex?: number) => Denial | undefined;
}

export const localIam = (
  app: App,
  bucket: string,
  enabled: boolean,
  adjust: (roles: Record<string, Role>) => Record<string, Role> = (roles) => roles,
): LocalIam => {
  const guard = new IamGuard(enabled);
  const roles = adjust(rolesOf(app, bucket));
  const identities = functionIdentities(app, guard, roles);
  const properties = (logicalId: string) => app.resources[logicalId]?.Properties ?? {};
  const machineIdentities = new Map<string, FunctionIdentity>();
  return {
    guard,
    identityOf: (functionKey) => {
      const identity = identities.get(functionKey);
      if (!identity) throw new Error(`serverless.yml declares no function ${functionKey}`);
      return identity;
    },
    stateMachineIdentity: (stateMachineId) => {
      let identity = machineIdentities.get(stateMachineId);
      if (!identity) {
        // Step Functions calls a service as an assumed-role session of the state machine's role.
        identity = guard.issue(rolePrincipal(roles, properties(stateMachineId).RoleArn, 'states'));
        machineIdentities.set(stateMachineId, identity);
      }
      return identity;
    },
    invokeCheck: (stateMachineId) => {
      const principal = rolePrincipal(roles, properties(stateMachineId).RoleArn, 'states');
      return (binding) =>
        guard.check(principal, [{ action: 'lambda:InvokeFunction', resource: binding.functionArn }])?.message;
    },
    startCheck: (ruleId, stateMachineArn, targetIndex = 0) => {
      const target = (properties(ruleId).Targets as Array<{ RoleArn?: string }> | undefined)?.[targetIndex];
      const principal = rolePrincipal(roles, target?.RoleArn, 'events');
      return guard.check(principal, [{ action: 'states:StartExecution', resource: stateMachineArn }]);
    },
  };
};
