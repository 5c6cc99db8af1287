/**
 * Hand-written cases for the IAM evaluator, each with the decision AWS's documentation gives
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html and the
 * pages on Action, Resource, Condition operators and policy variables). Both our evaluator and
 * iam-simulate must reach it. `DISAGREEMENTS` lists the corners where iam-simulate does not, each
 * with its reason; they are kept out of the agreement checks and the random policies.
 */
import type { AuthorizationRequest, Decision, PolicyStatement } from '../../local/iam/policy.ts';

export interface Case {
  name: string;
  statements: PolicyStatement[];
  /** Statements of a second policy, when the case is about more than one. */
  more?: PolicyStatement[];
  request: AuthorizationRequest;
  expected: Decision;
}

const ACCOUNT = '000000000000';
export const CA = `arn:aws:iot:us-east-1:${ACCOUNT}:cacert/${'ab'.repeat(32)}`;
export const TEMPLATE = `arn:aws:iot:us-east-1:${ACCOUNT}:provisioningtemplate/iot-ca-local-jitp`;
export const BUCKET = 'arn:aws:s3:::iot-ca-local';
export const OBJECT = `${BUCKET}/incoming/x.pem`;

const describe = (context?: AuthorizationRequest['context']): AuthorizationRequest => ({
  action: 'iot:DescribeCACertificate',
  resource: CA,
  ...(context ? { context } : {}),
});
const getObject = (key = 'incoming/x.pem', context?: AuthorizationRequest['context']): AuthorizationRequest => ({
  action: 's3:GetObject',
  resource: `${BUCKET}/${key}`,
  ...(context ? { context } : {}),
});
const tagCa = (tagKeys?: string[]): AuthorizationRequest => ({
  action: 'iot:TagResource',
  resource: CA,
  ...(tagKeys ? { context: { 'aws:TagKeys': tagKeys } } : {}),
});
const allow = (Action: string | string[], Resource: string | string[] = '*'): PolicyStatement => ({
  Effect: 'Allow',
  Action,
  Resource,
});
/** Allows everything under one condition operator and key. */
const when = (operator: string, key: string, values: string | string[] | boolean): PolicyStatement => ({
  Effect: 'Allow',
  Action: '*',
  Resource: '*',
  Condition: { [operator]: { [key]: values } },
});

const actions: Case[] = [
  { name: 'no statement: implicit deny', statements: [], request: describe(), expected: 'ImplicitlyDenied' },
  {
    name: 'the exact action',
    statements: [allow('iot:DescribeCACertificate')],
    request: describe(),
    expected: 'Allowed',
  },
  {
    name: 'a trailing * in the action',
    statements: [allow('iot:Describe*')],
    request: describe(),
    expected: 'Allowed',
  },
  {
    name: 'actions ignore case',
    statements: [allow('iot:describecacertificate')],
    request: describe(),
    expected: 'Allowed',
  },
  {
    name: 'the service prefix ignores case',
    statements: [allow('IOT:DescribeCACertificate')],
    request: describe(),
    expected: 'Allowed',
  },
  {
    name: '? is one character',
    statements: [allow('iot:Describe?ACertificate')],
    request: describe(),
    expected: 'Allowed',
  },
  {
    name: '? is exactly one',
    statements: [allow('iot:Describe?Certificate')],
    request: describe(),
    expected: 'ImplicitlyDenied',
  },
  { name: '* alone is every action', statements: [allow('*')], request: describe(), expected: 'Allowed' },
  { name: 'another service', statements: [allow('s3:*')], request: describe(), expected: 'ImplicitlyDenied' },
  {
    name: 'a prefix is not a match',
    statements: [allow('iot:Describe')],
    request: describe(),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'one of a list',
    statements: [allow(['s3:GetObject', 'iot:DescribeCACertificate'])],
    request: describe(),
    expected: 'Allowed',
  },
  {
    name: 'NotAction allows what it does not name',
    statements: [{ Effect: 'Allow', NotAction: 'iot:Delete*', Resource: '*' }],
    request: describe(),
    expected: 'Allowed',
  },
  {
    name: 'NotAction does not allow what it names',
    statements: [{ Effect: 'Allow', NotAction: ['s3:*', 'iot:*'], Resource: '*' }],
    request: describe(),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'Deny with NotAction denies every other service',
    statements: [allow('*'), { Effect: 'Deny', NotAction: 's3:*', Resource: '*' }],
    request: describe(),
    expected: 'ExplicitlyDenied',
  },
];

const resources: Case[] = [
  {
    name: 'cacert/*',
    statements: [allow('iot:*', `arn:aws:iot:us-east-1:${ACCOUNT}:cacert/*`)],
    request: describe(),
    expected: 'Allowed',
  },
  {
    name: 'a resource-id prefix',
    statements: [allow('iot:*', `arn:aws:iot:us-east-1:${ACCOUNT}:cacert/abab*`)],
    request: describe(),
    expected: 'Allowed',
  },
  {
    name: 'any region',
    statements: [allow('iot:*', `arn:aws:iot:*:${ACCOUNT}:cacert/*`)],
    request: describe(),
    expected: 'Allowed',
  },
  {
    name: 'another account',
    statements: [allow('iot:*', 'arn:aws:iot:us-east-1:111111111111:cacert/*')],
    request: describe(),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'resource ids are case-sensitive',
    statements: [allow('iot:*', `arn:aws:iot:us-east-1:${ACCOUNT}:cacert/ABAB*`)],
    request: describe(),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'a last * spans colons',
    statements: [allow('iot:*', 'arn:aws:iot:us-east-1:*')],
    request: describe(),
    expected: 'Allowed',
  },
  {
    name: '? in a key',
    statements: [allow('s3:GetObject', `${BUCKET}/incoming/?.pem`)],
    request: getObject(),
    expected: 'Allowed',
  },
  {
    name: '?? is two characters',
    statements: [allow('s3:GetObject', `${BUCKET}/incoming/??.pem`)],
    request: getObject(),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'the bucket is not its objects',
    statements: [allow('s3:GetObject', BUCKET)],
    request: getObject(),
    expected: 'ImplicitlyDenied',
  },
  {
    name: '* spans slashes',
    statements: [allow('s3:GetObject', `${BUCKET}/*`)],
    request: getObject(),
    expected: 'Allowed',
  },
  {
    name: 'regex characters are literal',
    statements: [allow('logs:CreateLogStream', `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/f:*`)],
    request: {
      action: 'logs:CreateLogStream',
      resource: `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/f:log-stream:2026/12/04/[$LATEST]0a1b`,
    },
    expected: 'Allowed',
  },
  {
    name: 'NotResource excludes what it names',
    statements: [{ Effect: 'Allow', Action: 'iot:*', NotResource: `arn:aws:iot:us-east-1:${ACCOUNT}:cacert/*` }],
    request: describe(),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'NotResource includes the rest',
    statements: [{ Effect: 'Allow', Action: 'iot:*', NotResource: `arn:aws:iot:us-east-1:${ACCOUNT}:cacert/*` }],
    request: { action: 'iot:DescribeProvisioningTemplate', resource: TEMPLATE },
    expected: 'Allowed',
  },
  {
    name: 'Deny with NotResource denies outside it',
    statements: [allow('*'), { Effect: 'Deny', Action: '*', NotResource: `${BUCKET}/results/*` }],
    request: getObject(),
    expected: 'ExplicitlyDenied',
  },
  {
    name: 'Deny with NotResource spares inside it',
    statements: [allow('*'), { Effect: 'Deny', Action: '*', NotResource: `${BUCKET}/incoming/*` }],
    request: getObject(),
    expected: 'Allowed',
  },
  {
    name: 'an action with no resource type needs Resource *',
    statements: [allow('iot:*', `arn:aws:iot:us-east-1:${ACCOUNT}:cacert/*`)],
    request: { action: 'iot:ListCACertificates', resource: '*' },
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'Resource * for an action with no resource type',
    statements: [allow('iot:ListCACertificates')],
    request: { action: 'iot:ListCACertificates', resource: '*' },
    expected: 'Allowed',
  },
  {
    name: 'Deny NotResource <arn> covers an action with no resource type',
    statements: [allow('iot:*'), { Effect: 'Deny', Action: 'iot:*', NotResource: CA }],
    request: { action: 'iot:ListCACertificates', resource: '*' },
    expected: 'ExplicitlyDenied',
  },
];

const evaluation: Case[] = [
  {
    name: 'Deny overrides Allow',
    statements: [allow('*'), { Effect: 'Deny', Action: 'iot:Describe*', Resource: '*' }],
    request: describe(),
    expected: 'ExplicitlyDenied',
  },
  {
    name: 'a Deny in another policy overrides',
    statements: [allow('iot:DescribeCACertificate', CA)],
    more: [{ Effect: 'Deny', Action: 'iot:*', Resource: `arn:aws:iot:*:*:cacert/*` }],
    request: describe(),
    expected: 'ExplicitlyDenied',
  },
  {
    name: 'a Deny whose condition fails does not',
    statements: [
      allow('*'),
      { Effect: 'Deny', Action: '*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
    ],
    request: describe({ 'aws:SecureTransport': 'true' }),
    expected: 'Allowed',
  },
  {
    name: 'the bucket policy: Deny insecure transport',
    statements: [
      allow('s3:*'),
      {
        Effect: 'Deny',
        Action: 's3:*',
        Resource: [BUCKET, `${BUCKET}/*`],
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
    ],
    request: getObject('incoming/x.pem', { 'aws:SecureTransport': 'false' }),
    expected: 'ExplicitlyDenied',
  },
];

const variables: Case[] = [
  {
    name: '${aws:username} in a resource',
    statements: [allow('s3:GetObject', `${BUCKET}/\${aws:username}/*`)],
    request: getObject('incoming/x.pem', { 'aws:username': 'incoming' }),
    expected: 'Allowed',
  },
  {
    name: 'a variable with no value matches nothing',
    statements: [allow('s3:GetObject', `${BUCKET}/\${aws:username}/*`)],
    request: getObject(),
    expected: 'ImplicitlyDenied',
  },
  {
    name: "a variable's default",
    statements: [allow('s3:GetObject', `${BUCKET}/\${aws:username, 'incoming'}/*`)],
    request: getObject(),
    expected: 'Allowed',
  },
  {
    name: "a variable's value is literal",
    statements: [allow('s3:GetObject', `${BUCKET}/\${aws:username}/x.pem`)],
    request: getObject('incoming/x.pem', { 'aws:username': '*' }),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'context keys ignore case',
    statements: [allow('s3:GetObject', `${BUCKET}/\${aws:username}/*`)],
    request: getObject('incoming/x.pem', { 'AWS:UserName': 'incoming' }),
    expected: 'Allowed',
  },
  // A request resource with a * in it is a wildcard request to iam-simulate: ${*} is checked in a condition.
  {
    name: '${*} is a literal *',
    statements: [when('StringLike', 'aws:username', 'a${*}')],
    request: describe({ 'aws:username': 'a*' }),
    expected: 'Allowed',
  },
  {
    name: '${*} is not a wildcard',
    statements: [when('StringLike', 'aws:username', 'a${*}')],
    request: describe({ 'aws:username': 'alice' }),
    expected: 'ImplicitlyDenied',
  },
  {
    name: '${?} is not a wildcard',
    statements: [allow('s3:GetObject', `${BUCKET}/incoming/\${?}.pem`)],
    request: getObject('incoming/y.pem'),
    expected: 'ImplicitlyDenied',
  },
  {
    name: '${?} is a literal ?',
    statements: [allow('s3:GetObject', `${BUCKET}/incoming/\${?}.pem`)],
    request: getObject('incoming/?.pem'),
    expected: 'Allowed',
  },
  {
    name: '${$} is a literal $',
    statements: [allow('s3:GetObject', `${BUCKET}/incoming/\${$}.pem`)],
    request: getObject('incoming/$.pem'),
    expected: 'Allowed',
  },
  {
    // AWS documents a missing variable as "no match" for Resource; for NotResource both evaluators
    // treat it as unknown, so the statement does not apply (never grants by accident).
    name: 'NotResource naming a variable with no value does not apply',
    statements: [{ Effect: 'Allow', Action: 's3:*', NotResource: `${BUCKET}/\${aws:username}/*` }],
    request: getObject(),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'a variable in a condition value',
    statements: [when('StringEquals', 'aws:PrincipalTag/team', '${aws:username}')],
    request: describe({ 'aws:username': 'ops', 'aws:PrincipalTag/team': 'ops' }),
    expected: 'Allowed',
  },
];

const strings: Case[] = [
  {
    name: 'StringEquals',
    statements: [when('StringEquals', 'aws:username', 'alice')],
    request: describe({ 'aws:username': 'alice' }),
    expected: 'Allowed',
  },
  {
    name: 'StringEquals is case-sensitive',
    statements: [when('StringEquals', 'aws:username', 'alice')],
    request: describe({ 'aws:username': 'Alice' }),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'StringEquals: values OR',
    statements: [when('StringEquals', 'aws:username', ['bob', 'alice'])],
    request: describe({ 'aws:username': 'alice' }),
    expected: 'Allowed',
  },
  {
    name: 'StringEquals: a missing key fails',
    statements: [when('StringEquals', 'aws:username', 'alice')],
    request: describe(),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'StringEquals takes no wildcard',
    statements: [when('StringEquals', 'aws:username', 'a*')],
    request: describe({ 'aws:username': 'alice' }),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'StringNotEquals: none of the values',
    statements: [when('StringNotEquals', 'aws:username', ['bob', 'carol'])],
    request: describe({ 'aws:username': 'alice' }),
    expected: 'Allowed',
  },
  {
    name: 'StringNotEquals: one of the values',
    statements: [when('StringNotEquals', 'aws:username', ['bob', 'alice'])],
    request: describe({ 'aws:username': 'alice' }),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'StringNotEquals: a missing key passes',
    statements: [when('StringNotEquals', 'aws:username', 'alice')],
    request: describe(),
    expected: 'Allowed',
  },
  {
    name: 'StringEqualsIgnoreCase',
    statements: [when('StringEqualsIgnoreCase', 'aws:username', 'ALICE')],
    request: describe({ 'aws:username': 'alice' }),
    expected: 'Allowed',
  },
  {
    name: 'StringNotEqualsIgnoreCase',
    statements: [when('StringNotEqualsIgnoreCase', 'aws:username', 'ALICE')],
    request: describe({ 'aws:username': 'alice' }),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'StringLike',
    statements: [when('StringLike', 's3:prefix', ['incoming/*', 'results/*'])],
    request: { action: 's3:ListBucket', resource: BUCKET, context: { 's3:prefix': 'results/' } },
    expected: 'Allowed',
  },
  {
    name: 'StringLike: an empty prefix',
    statements: [when('StringLike', 's3:prefix', ['incoming/*', 'results/*'])],
    request: { action: 's3:ListBucket', resource: BUCKET, context: { 's3:prefix': '' } },
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'StringLike: ?',
    statements: [when('StringLike', 'aws:username', 'al?ce')],
    request: describe({ 'aws:username': 'alice' }),
    expected: 'Allowed',
  },
  {
    name: 'StringNotLike',
    statements: [when('StringNotLike', 'aws:username', ['b*', '*z'])],
    request: describe({ 'aws:username': 'alice' }),
    expected: 'Allowed',
  },
  {
    name: 'StringNotLike: one matches',
    statements: [when('StringNotLike', 'aws:username', ['a*', '*z'])],
    request: describe({ 'aws:username': 'alice' }),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'keys of one operator AND',
    statements: [
      {
        Effect: 'Allow',
        Action: '*',
        Resource: '*',
        Condition: { StringEquals: { 'aws:username': 'alice', 'aws:PrincipalTag/team': 'ops' } },
      },
    ],
    request: describe({ 'aws:username': 'alice', 'aws:PrincipalTag/team': 'dev' }),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'operators AND',
    statements: [
      {
        Effect: 'Allow',
        Action: '*',
        Resource: '*',
        Condition: { StringEquals: { 'aws:username': 'alice' }, Bool: { 'aws:SecureTransport': 'true' } },
      },
    ],
    request: describe({ 'aws:username': 'alice', 'aws:SecureTransport': 'true' }),
    expected: 'Allowed',
  },
  {
    name: 'condition keys ignore case',
    statements: [when('StringEquals', 'AWS:USERNAME', 'alice')],
    request: describe({ 'aws:username': 'alice' }),
    expected: 'Allowed',
  },
  {
    name: 'iam:PassedToService',
    statements: [
      {
        Effect: 'Allow',
        Action: 'iam:PassRole',
        Resource: `arn:aws:iam::${ACCOUNT}:role/ProvisioningRole`,
        Condition: { StringEquals: { 'iam:PassedToService': 'iot.amazonaws.com' } },
      },
    ],
    request: {
      action: 'iam:PassRole',
      resource: `arn:aws:iam::${ACCOUNT}:role/ProvisioningRole`,
      context: { 'iam:PassedToService': 'lambda.amazonaws.com' },
    },
    expected: 'ImplicitlyDenied',
  },
];

const arns: Case[] = [
  {
    name: 'ArnLike',
    statements: [when('ArnLike', 'aws:SourceArn', `${BUCKET}/*`)],
    request: describe({ 'aws:SourceArn': OBJECT }),
    expected: 'Allowed',
  },
  {
    name: 'ArnEquals takes wildcards too',
    statements: [when('ArnEquals', 'aws:SourceArn', `arn:aws:iot:*:${ACCOUNT}:cacert/*`)],
    request: describe({ 'aws:SourceArn': CA }),
    expected: 'Allowed',
  },
  {
    name: 'ArnLike segment by segment',
    statements: [when('ArnLike', 'aws:SourceArn', `arn:aws:states:*:${ACCOUNT}:stateMachine:*`)],
    request: describe({ 'aws:SourceArn': `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:m` }),
    expected: 'Allowed',
  },
  {
    name: 'ArnLike: another account',
    statements: [when('ArnLike', 'aws:SourceArn', `arn:aws:iot:*:111111111111:cacert/*`)],
    request: describe({ 'aws:SourceArn': CA }),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'ArnLike: not an ARN',
    statements: [when('ArnLike', 'aws:SourceArn', `${BUCKET}/*`)],
    request: describe({ 'aws:SourceArn': 'iot-ca-local' }),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'ArnNotLike: a missing key passes',
    statements: [when('ArnNotLike', 'aws:SourceArn', `${BUCKET}/*`)],
    request: describe(),
    expected: 'Allowed',
  },
  {
    name: 'ArnNotLike: a match fails',
    statements: [when('ArnNotLike', 'aws:SourceArn', `${BUCKET}/*`)],
    request: describe({ 'aws:SourceArn': OBJECT }),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'ArnNotEquals: another ARN passes',
    statements: [when('ArnNotEquals', 'aws:SourceArn', BUCKET)],
    request: describe({ 'aws:SourceArn': OBJECT }),
    expected: 'Allowed',
  },
];

const scalars: Case[] = [
  {
    name: 'Bool',
    statements: [when('Bool', 'aws:SecureTransport', 'true')],
    request: describe({ 'aws:SecureTransport': 'true' }),
    expected: 'Allowed',
  },
  {
    name: 'Bool: a JSON boolean',
    statements: [when('Bool', 'aws:SecureTransport', true)],
    request: describe({ 'aws:SecureTransport': 'true' }),
    expected: 'Allowed',
  },
  {
    name: 'Bool: the other value',
    statements: [when('Bool', 'aws:SecureTransport', 'true')],
    request: describe({ 'aws:SecureTransport': 'false' }),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'Bool: a missing key fails',
    statements: [when('Bool', 'aws:SecureTransport', 'false')],
    request: describe(),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'BoolIfExists: a missing key passes',
    statements: [when('BoolIfExists', 'aws:SecureTransport', 'false')],
    request: describe(),
    expected: 'Allowed',
  },
  {
    name: 'Null true: missing',
    statements: [when('Null', 'aws:username', 'true')],
    request: describe(),
    expected: 'Allowed',
  },
  {
    name: 'Null true: present',
    statements: [when('Null', 'aws:username', 'true')],
    request: describe({ 'aws:username': 'alice' }),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'Null false: present',
    statements: [when('Null', 'aws:username', 'false')],
    request: describe({ 'aws:username': 'alice' }),
    expected: 'Allowed',
  },
  {
    name: 'Null false: missing',
    statements: [when('Null', 'aws:username', 'false')],
    request: describe(),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'NumericLessThan',
    statements: [when('NumericLessThan', 'aws:MultiFactorAuthAge', '3600')],
    request: describe({ 'aws:MultiFactorAuthAge': '30' }),
    expected: 'Allowed',
  },
  {
    name: 'NumericLessThan: equal fails',
    statements: [when('NumericLessThan', 'aws:MultiFactorAuthAge', '3600')],
    request: describe({ 'aws:MultiFactorAuthAge': '3600' }),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'NumericLessThanEquals: equal',
    statements: [when('NumericLessThanEquals', 'aws:MultiFactorAuthAge', '3600')],
    request: describe({ 'aws:MultiFactorAuthAge': '3600' }),
    expected: 'Allowed',
  },
  {
    name: 'NumericGreaterThan',
    statements: [when('NumericGreaterThan', 'aws:MultiFactorAuthAge', '3600')],
    request: describe({ 'aws:MultiFactorAuthAge': '7200' }),
    expected: 'Allowed',
  },
  {
    name: 'NumericGreaterThanEquals',
    statements: [when('NumericGreaterThanEquals', 'aws:MultiFactorAuthAge', '3600')],
    request: describe({ 'aws:MultiFactorAuthAge': '30' }),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'NumericEquals: decimals',
    statements: [when('NumericEquals', 'aws:MultiFactorAuthAge', '1.5')],
    request: describe({ 'aws:MultiFactorAuthAge': '1.50' }),
    expected: 'Allowed',
  },
  {
    name: 'NumericNotEquals',
    statements: [when('NumericNotEquals', 'aws:MultiFactorAuthAge', ['1', '2'])],
    request: describe({ 'aws:MultiFactorAuthAge': '3' }),
    expected: 'Allowed',
  },
  {
    name: 'NumericNotEquals: a missing key passes',
    statements: [when('NumericNotEquals', 'aws:MultiFactorAuthAge', '1')],
    request: describe(),
    expected: 'Allowed',
  },
  {
    name: 'Numeric: not a number fails',
    statements: [when('NumericLessThan', 'aws:MultiFactorAuthAge', '3600')],
    request: describe({ 'aws:MultiFactorAuthAge': 'soon' }),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'DateGreaterThan',
    statements: [when('DateGreaterThan', 'aws:CurrentTime', '2026-01-01T00:00:00Z')],
    request: describe({ 'aws:CurrentTime': '2026-12-04T23:00:00Z' }),
    expected: 'Allowed',
  },
  {
    name: 'DateLessThan',
    statements: [when('DateLessThan', 'aws:CurrentTime', '2026-01-01T00:00:00Z')],
    request: describe({ 'aws:CurrentTime': '2026-12-04T23:00:00Z' }),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'DateLessThanEquals: equal',
    statements: [when('DateLessThanEquals', 'aws:CurrentTime', '2026-12-04T00:00:00Z')],
    request: describe({ 'aws:CurrentTime': '2026-12-04T00:00:00Z' }),
    expected: 'Allowed',
  },
  {
    name: 'DateEquals: one instant, two zones',
    statements: [when('DateEquals', 'aws:CurrentTime', '2026-12-04T01:00:00+01:00')],
    request: describe({ 'aws:CurrentTime': '2026-12-04T00:00:00Z' }),
    expected: 'Allowed',
  },
  {
    name: 'DateNotEquals',
    statements: [when('DateNotEquals', 'aws:CurrentTime', '2026-12-04T00:00:00Z')],
    request: describe({ 'aws:CurrentTime': '2026-12-05T00:00:00Z' }),
    expected: 'Allowed',
  },
  {
    name: 'DateGreaterThanEquals: epoch seconds',
    statements: [when('DateGreaterThanEquals', 'aws:EpochTime', '1800000000')],
    request: describe({ 'aws:EpochTime': '1700000000' }),
    expected: 'ImplicitlyDenied',
  },
];

const ifExists: Case[] = [
  {
    name: 'StringEqualsIfExists: missing passes',
    statements: [when('StringEqualsIfExists', 'aws:username', 'alice')],
    request: describe(),
    expected: 'Allowed',
  },
  {
    name: 'StringEqualsIfExists: present is checked',
    statements: [when('StringEqualsIfExists', 'aws:username', 'alice')],
    request: describe({ 'aws:username': 'bob' }),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'StringNotLikeIfExists',
    statements: [when('StringNotLikeIfExists', 'aws:username', 'a*')],
    request: describe({ 'aws:username': 'bob' }),
    expected: 'Allowed',
  },
  {
    name: 'NumericLessThanIfExists: missing passes',
    statements: [when('NumericLessThanIfExists', 'aws:MultiFactorAuthAge', '1')],
    request: describe(),
    expected: 'Allowed',
  },
  {
    name: 'a Deny with ...IfExists applies when the key is missing',
    statements: [
      allow('*'),
      {
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: { StringNotEqualsIfExists: { 'aws:PrincipalTag/team': 'ops' } },
      },
    ],
    request: describe(),
    expected: 'ExplicitlyDenied',
  },
];

const sets: Case[] = [
  {
    name: 'ForAllValues: a subset',
    statements: [when('ForAllValues:StringEquals', 'aws:TagKeys', ['team', 'env'])],
    request: tagCa(['env']),
    expected: 'Allowed',
  },
  {
    name: 'ForAllValues: one outside',
    statements: [when('ForAllValues:StringEquals', 'aws:TagKeys', ['team', 'env'])],
    request: tagCa(['env', 'owner']),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'ForAllValues: a missing key passes',
    statements: [when('ForAllValues:StringEquals', 'aws:TagKeys', ['team'])],
    request: tagCa(),
    expected: 'Allowed',
  },
  {
    name: 'ForAllValues: an empty set passes',
    statements: [when('ForAllValues:StringEquals', 'aws:TagKeys', ['team'])],
    request: tagCa([]),
    expected: 'Allowed',
  },
  {
    name: 'ForAnyValue: one inside',
    statements: [when('ForAnyValue:StringEquals', 'aws:TagKeys', ['team'])],
    request: tagCa(['env', 'team']),
    expected: 'Allowed',
  },
  {
    name: 'ForAnyValue: none inside',
    statements: [when('ForAnyValue:StringEquals', 'aws:TagKeys', ['team'])],
    request: tagCa(['env']),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'ForAnyValue: a missing key fails',
    statements: [when('ForAnyValue:StringEquals', 'aws:TagKeys', ['team'])],
    request: tagCa(),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'ForAnyValue: an empty set fails',
    statements: [when('ForAnyValue:StringEquals', 'aws:TagKeys', ['team'])],
    request: tagCa([]),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'ForAnyValue:StringLike',
    statements: [when('ForAnyValue:StringLike', 'aws:TagKeys', ['t*'])],
    request: tagCa(['env', 'team']),
    expected: 'Allowed',
  },
  {
    name: 'ForAllValues:StringNotEquals',
    statements: [when('ForAllValues:StringNotEquals', 'aws:TagKeys', ['secret'])],
    request: tagCa(['env', 'team']),
    expected: 'Allowed',
  },
  {
    name: 'ForAnyValue:StringNotEquals',
    statements: [when('ForAnyValue:StringNotEquals', 'aws:TagKeys', ['env'])],
    request: tagCa(['env']),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'ForAllValues:StringEqualsIfExists: missing',
    statements: [when('ForAllValues:StringEqualsIfExists', 'aws:TagKeys', ['team'])],
    request: tagCa(),
    expected: 'Allowed',
  },
  {
    name: 'a plain operator fails on a multi-valued key',
    statements: [when('StringEquals', 'aws:TagKeys', 'team')],
    request: tagCa(['team']),
    expected: 'ImplicitlyDenied',
  },
  {
    name: 'a set operator on a single-valued key',
    statements: [when('ForAnyValue:StringEquals', 'aws:username', ['alice'])],
    request: describe({ 'aws:username': 'alice' }),
    expected: 'Allowed',
  },
];

export const CASES: Case[] = [
  ...actions,
  ...resources,
  ...evaluation,
  ...variables,
  ...strings,
  ...arns,
  ...scalars,
  ...ifExists,
  ...sets,
];

export interface Disagreement extends Case {
  /** What iam-simulate decides instead. */
  reference: Decision;
  why: string;
}

/** Where iam-simulate (0.1.173) departs from AWS's documentation; excluded from the agreement checks. */
export const DISAGREEMENTS: Disagreement[] = [
  {
    name: 'a wildcard in the resource type',
    statements: [allow('iot:*', `arn:aws:iot:us-east-1:${ACCOUNT}:*cert/*`)],
    request: describe(),
    expected: 'Allowed',
    reference: 'ImplicitlyDenied',
    why:
      'AWS: wildcards may be used within any ARN segment but the service one, and * spans characters like /. ' +
      'iam-simulate takes the resource type (the text up to the first / or :) literally.',
  },
  {
    name: 'upper case in the region',
    statements: [allow('iot:*', `arn:aws:iot:US-EAST-1:${ACCOUNT}:cacert/*`)],
    request: describe(),
    expected: 'ImplicitlyDenied',
    reference: 'Allowed',
    why:
      'iam-simulate matches partition, service, region and account ignoring case; AWS documents ARNs in Resource as ' +
      'case-sensitive and does not single those segments out. The SDK always sends them in lower case, so the ' +
      'local stack never meets this corner.',
  },
  {
    name: 'a date in epoch seconds against an ISO 8601 one',
    statements: [when('DateLessThan', 'aws:CurrentTime', '1800000000')],
    request: describe({ 'aws:CurrentTime': '2026-12-04T23:00:00Z' }),
    expected: 'Allowed',
    reference: 'ImplicitlyDenied',
    why:
      'AWS: a date may be given as epoch (UNIX) time, in seconds (1800000000 is 2027-01-15). iam-simulate compares ' +
      'the bare number with the ISO date in milliseconds.',
  },
  {
    name: 'ForAnyValue with IfExists on a missing key',
    statements: [when('ForAnyValue:StringEqualsIfExists', 'aws:TagKeys', ['team'])],
    request: tagCa(),
    expected: 'Allowed',
    reference: 'ImplicitlyDenied',
    why:
      'AWS: "If the key is not present, evaluate the condition element as true" for any ...IfExists operator. ' +
      "iam-simulate applies ForAnyValue's missing-key rule (false) first and never reaches IfExists.",
  },
];
