/**
 * iam-simulate (AGPL-3.0, a devDependency) as the referee for `local/iam/policy.ts`: test code
 * only, never imported from what ships (`iam-licence.test.ts` checks).
 */
import { type EvaluationResult, runSimulation } from '@cloud-copilot/iam-simulate';
import type { AuthorizationRequest, Decision, PolicyDocument } from '../../local/iam/policy.ts';

export const ACCOUNT = '000000000000';
/** The caller: a role of the same account (identity policies only, as the local stack evaluates them). */
const PRINCIPAL = `arn:aws:iam::${ACCOUNT}:role/Caller`;

/** iam-simulate's names for the three outcomes happen to be ours; the map keeps that a checked fact. */
const DECISIONS: Record<EvaluationResult, Decision> = {
  Allowed: 'Allowed',
  ExplicitlyDenied: 'ExplicitlyDenied',
  ImplicitlyDenied: 'ImplicitlyDenied',
};

/**
 * iam-simulate's decision for `request` under `policies`. Throws when it refuses the input (an
 * unknown action, a resource type the action does not take, an invalid policy) or drops a context
 * key as not applying to the action: either would make the comparison meaningless.
 */
export const referenceDecision = async (
  request: AuthorizationRequest,
  policies: PolicyDocument[],
): Promise<Decision> => {
  const contextVariables: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(request.context ?? {}))
    if (value !== undefined) contextVariables[key] = value;
  const result = await runSimulation(
    {
      request: {
        principal: PRINCIPAL,
        action: request.action,
        resource: { resource: request.resource, accountId: ACCOUNT },
        contextVariables,
      },
      identityPolicies: policies.map((policy, index) => ({ name: `policy${index}`, policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (result.resultType === 'error')
    throw new Error(`iam-simulate refused ${request.action} on ${request.resource}: ${JSON.stringify(result.errors)}`);
  if (result.resultType !== 'single') throw new Error(`iam-simulate ran a ${result.resultType} simulation`);
  const ignored = result.result.ignoredContextKeys ?? [];
  if (ignored.length > 0)
    throw new Error(`iam-simulate ignored ${ignored.join(', ')}: not condition keys of ${request.action}`);
  return DECISIONS[result.overallResult];
};
