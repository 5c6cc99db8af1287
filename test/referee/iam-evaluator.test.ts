/**
 * The local stack's IAM evaluator (`local/iam/policy.ts`, ours) against iam-simulate (AGPL-3.0, test
 * only): the same decision on (a) hand-written edge cases, each also checked against what AWS's
 * documentation says, (b) every role of serverless.yml crossed with the calls the pipeline makes, and
 * (c) random policies and requests. Where iam-simulate departs from AWS's documentation, the corner
 * is listed in `iam-cases.ts` (DISAGREEMENTS) with its reason and kept out of (a) and (c).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadApp } from '../../local/app.ts';
import {
  type AuthorizationRequest,
  type Decision,
  evaluate,
  type PolicyDocument,
  type PolicyStatement,
} from '../../local/iam/policy.ts';
import { iotRequests, s3Requests, sfnRequests } from '../../local/iam/requests.ts';
import { rolesOf } from '../../local/iam/roles.ts';
import { BUCKET, CA, CASES, type Case, DISAGREEMENTS, OBJECT, TEMPLATE } from './iam-cases.ts';
import { ACCOUNT, referenceDecision } from './iam-reference.ts';

type Evaluator = (request: AuthorizationRequest, policies: PolicyDocument[]) => Decision;
const ours: Evaluator = (request, policies) => evaluate(request, policies).decision;

const documents = (testCase: Case): PolicyDocument[] => [
  { Version: '2012-10-17', Statement: testCase.statements },
  ...(testCase.more ? [{ Version: '2012-10-17', Statement: testCase.more }] : []),
];

describe('the IAM evaluator against iam-simulate: hand-written cases', () => {
  it.each(CASES.map((testCase) => [testCase.name, testCase] as const))('%s', async (_, testCase) => {
    const policies = documents(testCase);
    expect(ours(testCase.request, policies), 'ours').toBe(testCase.expected);
    expect(await referenceDecision(testCase.request, policies), 'iam-simulate').toBe(testCase.expected);
  });

  it('the statement that decided comes back with the decision', () => {
    const deny: PolicyStatement = { Sid: 'NoDelete', Effect: 'Deny', Action: 'iot:Delete*', Resource: '*' };
    const allow: PolicyStatement = { Sid: 'All', Effect: 'Allow', Action: '*', Resource: '*' };
    const policies = [{ Statement: [allow, deny] }];
    expect(evaluate({ action: 'iot:DeleteCACertificate', resource: CA }, policies)).toEqual({
      decision: 'ExplicitlyDenied',
      statement: deny,
    });
    expect(evaluate({ action: 'iot:DescribeCACertificate', resource: CA }, policies).statement).toBe(allow);
    expect(evaluate({ action: 'iot:X', resource: CA }, [])).toEqual({ decision: 'ImplicitlyDenied' });
  });

  it('an operator it does not implement is an error, not a guess', () => {
    const policies = [
      {
        Statement: [
          {
            Effect: 'Allow' as const,
            Action: '*',
            Resource: '*',
            Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
          },
        ],
      },
    ];
    expect(() => evaluate({ action: 'iot:DescribeCACertificate', resource: CA }, policies)).toThrow(/IpAddress/);
  });
});

describe('where iam-simulate departs from AWS documentation (excluded from the comparison)', () => {
  it.each(DISAGREEMENTS.map((testCase) => [testCase.name, testCase] as const))('%s', async (_, testCase) => {
    const policies = documents(testCase);
    // Ours follows the documentation; iam-simulate still decides otherwise. If it changes, this fails
    // and the corner can join the cases above.
    expect(ours(testCase.request, policies), testCase.why).toBe(testCase.expected);
    expect(await referenceDecision(testCase.request, policies), testCase.why).toBe(testCase.reference);
  });
});

describe('the comparison can fail', () => {
  const withoutStatements = (policies: PolicyDocument[], drop: (statement: PolicyStatement) => boolean) =>
    policies.map((policy) => ({ ...policy, Statement: [policy.Statement].flat().filter((s) => !drop(s)) }));
  const MUTANTS: Record<string, Evaluator> = {
    'Deny statements ignored': (request, policies) =>
      ours(
        request,
        withoutStatements(policies, (statement) => statement.Effect === 'Deny'),
      ),
    'conditions ignored': (request, policies) =>
      ours(
        request,
        policies.map((policy) => ({
          ...policy,
          Statement: [policy.Statement].flat().map(({ Condition: _, ...statement }) => statement),
        })),
      ),
    'context keys found only when written in lower case': (request, policies) =>
      ours(
        {
          ...request,
          context: Object.fromEntries(
            Object.entries(request.context ?? {}).map(([k, v]) => [k === k.toLowerCase() ? k : `${k}#`, v]),
          ),
        },
        policies,
      ),
  };

  it.each(Object.keys(MUTANTS))('a wrong evaluator (%s) disagrees with iam-simulate on the table', async (name) => {
    const mutant = MUTANTS[name] as Evaluator;
    const disagreements: string[] = [];
    for (const testCase of CASES) {
      const policies = documents(testCase);
      if (mutant(testCase.request, policies) !== (await referenceDecision(testCase.request, policies)))
        disagreements.push(testCase.name);
    }
    expect(disagreements.length).toBeGreaterThan(0);
  });
});

// ---- (b) The roles of serverless.yml, crossed with the calls the pipeline makes ----

const app = loadApp();
const roles = rolesOf(app, 'iot-ca-local');
const CA_ID = 'ab'.repeat(32);
const PEM = `-----BEGIN CERTIFICATE-----\n${Buffer.from('not a certificate, hashed for its id').toString('base64')}\n-----END CERTIFICATE-----`;
const place = { region: 'us-east-1', account: ACCOUNT };
const iot = (
  operation: string,
  call: { params?: Record<string, string>; query?: Record<string, string>; body?: unknown } = {},
) => iotRequests({ operation, params: call.params ?? {}, query: call.query ?? {}, body: call.body ?? {} }, place);
const s3 = (method: string, key: string | undefined, query: Record<string, string> = {}) =>
  s3Requests({ method, bucket: 'iot-ca-local', key, query, headers: {} });
const stateMachineArn = (name: string) => `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:${name}`;
const tags = [{ Key: 'team', Value: 'platform' }];
const provisioningRole = roles.ProvisioningRole?.arn ?? `arn:aws:iam::${ACCOUNT}:role/ProvisioningRole`;

/** Every request the pipeline's calls make IAM evaluate (and a few it must refuse). */
const PIPELINE_REQUESTS: AuthorizationRequest[] = [
  ...iot('GetRegistrationCode'),
  ...iot('RegisterCACertificate', {
    body: { caCertificate: PEM, tags, registrationConfig: { templateName: 'iot-ca-local-jitp' } },
  }),
  ...iot('DescribeCACertificate', { params: { id: CA_ID } }),
  ...iot('DescribeProvisioningTemplate', { params: { name: 'iot-ca-local-jitp' } }),
  ...iot('UpdateCACertificate', {
    params: { id: CA_ID },
    body: { registrationConfig: { templateName: 'iot-ca-local-jitp' } },
  }),
  ...iot('UpdateCACertificate', { params: { id: CA_ID }, body: { registrationConfig: { roleArn: provisioningRole } } }),
  ...iot('ListTagsForResource', { query: { resourceArn: CA } }),
  ...iot('TagResource', { body: { resourceArn: CA, tags } }),
  ...iot('UntagResource', { body: { resourceArn: CA, tagKeys: ['old'] } }),
  ...iot('ListCACertificates'),
  ...iot('DeleteCACertificate', { params: { id: CA_ID } }),
  { action: 'iam:PassRole', resource: provisioningRole, context: { 'iam:PassedToService': 'iot.amazonaws.com' } },
  { action: 'iam:PassRole', resource: provisioningRole, context: { 'iam:PassedToService': 'lambda.amazonaws.com' } },
  ...s3('GET', 'incoming/x.pem'),
  ...s3('GET', 'incoming/x.pem', { versionId: 'v1' }),
  ...s3('HEAD', 'incoming/x.pem'),
  ...s3('GET', 'results/x.pem.json'),
  ...s3('PUT', 'results/x.pem.json'),
  ...s3('GET', 'results/reconcile/plan.json'),
  ...s3('PUT', 'results/reconcile/plan.json'),
  ...s3('PUT', 'incoming/x.pem'),
  ...s3('DELETE', 'incoming/x.pem'),
  ...s3('GET', undefined, { 'list-type': '2', prefix: 'incoming/' }),
  ...s3('GET', undefined, { 'list-type': '2', prefix: 'results/' }),
  ...s3('GET', undefined, { 'list-type': '2', prefix: 'other/' }),
  ...s3('GET', undefined, { 'list-type': '2' }),
  ...Object.values(app.stateMachines).flatMap((machine) =>
    sfnRequests('StartExecution', { stateMachineArn: stateMachineArn(machine.name) }),
  ),
  ...sfnRequests('DescribeExecution', { executionArn: `arn:aws:states:us-east-1:${ACCOUNT}:execution:m:e` }),
  ...Object.values(app.functions).flatMap((fn) => [
    { action: 'lambda:InvokeFunction', resource: fn.arn },
    {
      action: 'logs:PutLogEvents',
      resource: `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/${fn.name}:log-stream:2026/12/04/[$LATEST]0a1b`,
    },
  ]),
];

describe('the IAM evaluator against iam-simulate: the roles of serverless.yml', () => {
  it('has the roles and the calls it crosses', () => {
    expect(Object.keys(roles)).toEqual(
      expect.arrayContaining([
        'LoadCertificateRole',
        'StateMachineRole',
        'EventsStartExecutionRole',
        'ReconcilePlanRole',
      ]),
    );
    expect(PIPELINE_REQUESTS.length).toBeGreaterThan(40);
  });

  it.each(Object.keys(roles))('%s: the same decision on every call', async (logicalId) => {
    const policies = roles[logicalId]?.policies ?? [];
    const disagreements: string[] = [];
    for (const request of PIPELINE_REQUESTS) {
      const [mine, theirs] = [ours(request, policies), await referenceDecision(request, policies)];
      if (mine !== theirs)
        disagreements.push(
          `${request.action} ${request.resource} ${JSON.stringify(request.context)}: ${mine} / ${theirs}`,
        );
    }
    expect(disagreements).toEqual([]);
  });

  it('decides the roles as they are meant', () => {
    const list = (prefix: string) => s3('GET', undefined, { 'list-type': '2', prefix });
    const passRole = (service: string) => [
      { action: 'iam:PassRole', resource: provisioningRole, context: { 'iam:PassedToService': service } },
    ];
    const invoke = (fn: string) => [{ action: 'lambda:InvokeFunction', resource: app.functions[fn]?.arn ?? '' }];
    const start = (machine: string) =>
      sfnRequests('StartExecution', { stateMachineArn: stateMachineArn(app.stateMachines[machine]?.name ?? '') });
    const expectations: Array<[string, AuthorizationRequest[], Decision]> = [
      ['LoadCertificateRole', s3('GET', 'incoming/x.pem'), 'Allowed'],
      ['LoadCertificateRole', s3('GET', 'results/x.pem.json'), 'ImplicitlyDenied'],
      ['ReconcilePlanRole', list('results/'), 'Allowed'],
      ['ReconcilePlanRole', list('other/'), 'ImplicitlyDenied'],
      ['RegisterCaRole', passRole('iot.amazonaws.com'), 'Allowed'],
      ['RegisterCaRole', passRole('lambda.amazonaws.com'), 'ImplicitlyDenied'],
      ['StateMachineRole', invoke('loadCertificate'), 'Allowed'],
      ['StateMachineRole', invoke('reconcilePlan'), 'ImplicitlyDenied'],
      ['EventsStartExecutionRole', start('RegisterCaStateMachine'), 'Allowed'],
      ['ReconcileDeepRole', start('ReconcileStateMachine'), 'ImplicitlyDenied'],
    ];
    for (const [role, requests, decision] of expectations) {
      expect(requests).toHaveLength(1);
      expect(ours(requests[0] as AuthorizationRequest, roles[role]?.policies ?? []), role).toBe(decision);
    }
  });
});

// ---- (c) Random policies and requests over a small alphabet ----

const DATES = ['2026-01-01T00:00:00Z', '2026-12-04T12:00:00Z', '2027-06-01T00:00:00+02:00'];
const STRING_OPERATORS = [
  'StringEquals',
  'StringNotEquals',
  'StringEqualsIgnoreCase',
  'StringNotEqualsIgnoreCase',
  'StringLike',
  'StringNotLike',
];
const NUMERIC = ['Equals', 'NotEquals', 'LessThan', 'LessThanEquals', 'GreaterThan', 'GreaterThanEquals'];

/**
 * Condition keys by type, with operators and policy values that suit them. Kept away from the
 * documented disagreements: dates are all ISO 8601, ARNs lower case, no ForAnyValue with IfExists.
 */
const FAMILIES: Array<{ keys: string[]; operators: string[]; values: string[] }> = [
  {
    keys: ['aws:username', 'aws:PrincipalTag/team'],
    operators: STRING_OPERATORS,
    values: ['alice', 'ALICE', 'bob', 'a*', '*o*', '?ps', 'ops', '${aws:username}', 'incoming'],
  },
  { keys: ['aws:SecureTransport'], operators: ['Bool'], values: ['true', 'false', 'TRUE'] },
  {
    keys: ['aws:MultiFactorAuthAge'],
    operators: NUMERIC.map((name) => `Numeric${name}`),
    values: ['0', '30', '3600', '1.5'],
  },
  { keys: ['aws:CurrentTime'], operators: NUMERIC.map((name) => `Date${name}`), values: DATES },
  {
    keys: ['aws:SourceArn'],
    operators: ['ArnEquals', 'ArnLike', 'ArnNotEquals', 'ArnNotLike'],
    values: [`${BUCKET}/*`, BUCKET, `arn:aws:iot:*:${ACCOUNT}:cacert/*`, 'arn:aws:s3:::*'],
  },
  {
    keys: ['aws:CalledVia'],
    operators: STRING_OPERATORS,
    values: ['athena.amazonaws.com', 'dynamodb.amazonaws.com', '*.amazonaws.com'],
  },
];

const condition = fc
  .record({
    family: fc.constantFrom(...FAMILIES),
    pick: fc.nat(),
    operator: fc.nat(),
    qualifier: fc.constantFrom('', '', 'ForAnyValue:', 'ForAllValues:'),
    ifExists: fc.boolean(),
    isNull: fc.nat(9),
    values: fc.uniqueArray(fc.nat(), { minLength: 1, maxLength: 3 }),
  })
  .map(({ family, pick, operator, qualifier, ifExists, isNull, values }) => {
    const key = family.keys[pick % family.keys.length] as string;
    if (isNull === 0) return { operator: 'Null', key, values: [values[0] ?? 0].map((n) => (n % 2 ? 'true' : 'false')) };
    const base = family.operators[operator % family.operators.length] as string;
    const suffix = ifExists && qualifier !== 'ForAnyValue:' ? 'IfExists' : '';
    return {
      operator: `${qualifier}${base}${suffix}`,
      key,
      values: [...new Set(values.map((n) => family.values[n % family.values.length] as string))],
    };
  });

const ACTIONS = [
  '*',
  'iot:*',
  's3:*',
  'iot:Describe*',
  'iot:DescribeCACertificate',
  'iot:describecacertificate',
  'iot:?pdateCACertificate',
  'iot:TagResource',
  'iot:List*',
  's3:GetObject',
  's3:*Object',
  's3:List*',
];
const RESOURCES = [
  '*',
  `arn:aws:iot:us-east-1:${ACCOUNT}:cacert/*`,
  `arn:aws:iot:*:${ACCOUNT}:cacert/abab*`,
  'arn:aws:iot:us-east-1:111111111111:cacert/*',
  `arn:aws:iot:us-east-1:${ACCOUNT}:provisioningtemplate/*`,
  BUCKET,
  `${BUCKET}/*`,
  `${BUCKET}/incoming/*`,
  `${BUCKET}/incoming/?.pem`,
  `${BUCKET}/\${aws:username}/*`,
  `${BUCKET}/results/\${aws:username, 'x'}*`,
];

const oneOrMany = (alphabet: string[]) =>
  fc
    .uniqueArray(fc.constantFrom(...alphabet), { minLength: 1, maxLength: 3 })
    .chain((items) =>
      items.length === 1 ? fc.constantFrom<string | string[]>(items[0] as string, items) : fc.constant(items),
    );

const statement: fc.Arbitrary<PolicyStatement> = fc
  .record({
    effect: fc.constantFrom<'Allow' | 'Deny'>('Allow', 'Allow', 'Deny'),
    actions: oneOrMany(ACTIONS),
    notAction: fc.nat(4).map((n) => n === 0),
    resources: oneOrMany(RESOURCES),
    notResource: fc.nat(4).map((n) => n === 0),
    conditions: fc.array(condition, { maxLength: 2 }),
  })
  .map(({ effect, actions, notAction, resources, notResource, conditions }) => {
    const Condition: NonNullable<PolicyStatement['Condition']> = {};
    for (const { operator, key, values } of conditions) Condition[operator] = { ...Condition[operator], [key]: values };
    return {
      Effect: effect,
      ...(notAction ? { NotAction: actions } : { Action: actions }),
      ...(notResource ? { NotResource: resources } : { Resource: resources }),
      ...(conditions.length > 0 ? { Condition } : {}),
    };
  });

const REQUESTS: AuthorizationRequest[] = [
  { action: 'iot:DescribeCACertificate', resource: CA },
  { action: 'iot:UpdateCACertificate', resource: `arn:aws:iot:us-east-1:${ACCOUNT}:cacert/${'0f'.repeat(32)}` },
  { action: 'iot:TagResource', resource: CA },
  { action: 'iot:DescribeProvisioningTemplate', resource: TEMPLATE },
  { action: 'iot:ListCACertificates', resource: '*' },
  { action: 's3:GetObject', resource: OBJECT },
  { action: 's3:GetObject', resource: `${BUCKET}/alice/x.pem` },
  { action: 's3:PutObject', resource: `${BUCKET}/results/x.pem.json` },
  { action: 's3:ListBucket', resource: BUCKET },
];

const context = fc
  .record(
    {
      'aws:username': fc.constantFrom('alice', 'Alice', 'bob', 'incoming', 'ops'),
      'aws:PrincipalTag/team': fc.constantFrom('ops', 'OPS', 'dev'),
      'aws:SecureTransport': fc.constantFrom('true', 'false'),
      'aws:MultiFactorAuthAge': fc.constantFrom('0', '30', '3600', '1.50'),
      'aws:CurrentTime': fc.constantFrom(...DATES),
      'aws:SourceArn': fc.constantFrom(BUCKET, OBJECT, CA),
      'aws:CalledVia': fc.subarray(['athena.amazonaws.com', 'dynamodb.amazonaws.com', 'cloudformation.amazonaws.com']),
    },
    { requiredKeys: [] },
  )
  .chain((values) =>
    // Context keys in any case: both evaluators must read them case-insensitively.
    fc
      .array(fc.boolean(), { minLength: 8, maxLength: 8 })
      .map((upper) =>
        Object.fromEntries(
          Object.entries(values).map(([key, value], index) => [
            upper[index] && !key.includes('/') ? key.toUpperCase() : key,
            value,
          ]),
        ),
      ),
  );

const scenario = fc.record({
  policies: fc.array(fc.array(statement, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 2 }),
  request: fc.constantFrom(...REQUESTS),
  context,
});

const agreement = (evaluator: Evaluator, seen?: Record<Decision, number>) =>
  fc.asyncProperty(scenario, async ({ policies, request, context }) => {
    const documents = policies.map((Statement) => ({ Version: '2012-10-17', Statement }));
    const full = { ...request, context };
    const theirs = await referenceDecision(full, documents);
    if (seen) seen[theirs] += 1;
    expect(evaluator(full, documents)).toBe(theirs);
  });

describe('the IAM evaluator against iam-simulate: random policies', () => {
  it('decides as iam-simulate on random policies and requests', async () => {
    const seen: Record<Decision, number> = { Allowed: 0, ExplicitlyDenied: 0, ImplicitlyDenied: 0 };
    await fc.assert(agreement(ours, seen), { numRuns: 500 });
    // Not a vacuous agreement: every outcome came up often.
    for (const count of Object.values(seen)) expect(count).toBeGreaterThan(30);
  });

  it('finds a wrong evaluator out', async () => {
    const ignoresDeny: Evaluator = (request, policies) =>
      ours(
        request,
        policies.map((policy) => ({
          ...policy,
          Statement: [policy.Statement].flat().filter((s) => s.Effect !== 'Deny'),
        })),
      );
    const result = await fc.check(agreement(ignoresDeny), { numRuns: 400, seed: 1 });
    expect(result.failed).toBe(true);
  });
});
