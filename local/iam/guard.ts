/**
 * IAM for the local stack: each function signs with an access key of its own, which names the role
 * serverless.yml gives it; every call it makes is evaluated against that role's statements before
 * the local service acts on it. Any other key is the operator (the CLI, tests): allowed.
 */
import { randomBytes } from 'node:crypto';
import { type AuthorizationRequest, evaluate, type PolicyDocument } from './policy.ts';

export interface Principal {
  /** The role's ARN and the session Lambda would name (the function's name). */
  roleArn: string;
  sessionName: string;
  policies: PolicyDocument[];
}

export interface Denial {
  action: string;
  resource: string;
  principal: string;
  /** As AWS words it: `User: <assumed role> is not authorized to perform: <action> on resource: ...`. */
  message: string;
}

/** The assumed-role ARN a session of a role has: arn:aws:sts::<account>:assumed-role/<name>/<session>. */
export const assumedRoleArn = (roleArn: string, sessionName: string): string => {
  const [, , , , account, resource] = roleArn.split(':');
  return `arn:aws:sts::${account}:assumed-role/${String(resource)
    .replace(/^role\//, '')
    .split('/')
    .pop()}/${sessionName}`;
};

export class IamGuard {
  private readonly principals = new Map<string, Principal>();
  /** Every denial since the stack started (what `iot-ca up` prints and tests read). */
  readonly denials: Denial[] = [];
  onDenial: ((denial: Denial) => void) | undefined;

  constructor(
    /** Off with `iot-ca up --no-iam`: every call is allowed, as before the local stack enforced IAM. */
    public enabled = true,
  ) {}

  /** A new access key for a principal (what Lambda's environment hands a function). */
  issue(principal: Principal): { accessKeyId: string; secretAccessKey: string } {
    const accessKeyId = `ASIA${randomBytes(8).toString('hex').toUpperCase()}`;
    this.principals.set(accessKeyId, principal);
    return { accessKeyId, secretAccessKey: randomBytes(20).toString('base64') };
  }

  principalOf(accessKeyId: string): Principal | undefined {
    return this.principals.get(accessKeyId);
  }

  /** The first denied request, or undefined when the principal may make them all. */
  check(principal: Principal | undefined, requests: AuthorizationRequest[], record = true): Denial | undefined {
    if (!this.enabled || !principal) return undefined;
    for (const request of requests) {
      const { decision } = evaluate(request, principal.policies);
      if (decision === 'Allowed') continue;
      const who = assumedRoleArn(principal.roleArn, principal.sessionName);
      const why =
        decision === 'ExplicitlyDenied'
          ? 'with an explicit deny in an identity-based policy'
          : `because no identity-based policy allows the ${request.action} action`;
      const denial = {
        action: request.action,
        resource: request.resource,
        principal: who,
        message: `User: ${who} is not authorized to perform: ${request.action} on resource: ${request.resource} ${why}`,
      };
      if (record) {
        this.denials.push(denial);
        this.onDenial?.(denial);
      }
      return denial;
    }
    return undefined;
  }

  /** Checks the calls of whoever signed with this access key. */
  checkKey(accessKeyId: string, requests: AuthorizationRequest[]): Denial | undefined {
    return this.check(this.principals.get(accessKeyId), requests);
  }
}
