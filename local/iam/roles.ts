/**
 * The IAM roles serverless.yml declares, with their inline policies resolved as CloudFormation
 * would resolve them for the local stack: `!Sub`, `!GetAtt X.Arn` and `!Ref X` become the ARNs and
 * names of the local bucket, functions, log groups and state machines.
 */
import { LOCAL_ACCOUNT, LOCAL_REGION, type App } from '../app.ts';
import type { PolicyDocument, PolicyStatement } from './policy.ts';

export interface Role {
  logicalId: string;
  arn: string;
  policies: PolicyDocument[];
}

const capitalized = (key: string) => `${key.charAt(0).toUpperCase()}${key.slice(1)}`;

/**
 * What `!Ref X` and `!GetAtt X.Arn` give for the local stack's resources (and for the log groups
 * and functions the Framework adds to the template).
 */
export const resourceRefs = (app: App, bucket: string): Record<string, string> => {
  const refs: Record<string, string> = {};
  for (const fn of Object.values(app.functions)) {
    refs[`${capitalized(fn.key)}LambdaFunction`] = fn.name;
    refs[`${capitalized(fn.key)}LambdaFunction.Arn`] = fn.arn;
    refs[`${capitalized(fn.key)}LogGroup.Arn`] =
      `arn:aws:logs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:log-group:/aws/lambda/${fn.name}`;
  }
  for (const [logicalId, resource] of Object.entries(app.resources)) {
    const properties = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::S3::Bucket':
        refs[logicalId] = bucket;
        refs[`${logicalId}.Arn`] = `arn:aws:s3:::${bucket}`;
        break;
      case 'AWS::StepFunctions::StateMachine': {
        const name = app.resolve(String(properties.StateMachineName ?? logicalId));
        refs[logicalId] = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${name}`;
        refs[`${logicalId}.Name`] = name;
        break;
      }
      case 'AWS::Logs::LogGroup': {
        const name = app.resolve(String(properties.LogGroupName ?? logicalId));
        refs[logicalId] = name;
        refs[`${logicalId}.Arn`] = `arn:aws:logs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:log-group:${name}:*`;
        break;
      }
      case 'AWS::SNS::Topic': {
        const name = app.resolve(String(properties.TopicName ?? `${app.service}-${app.stage}-${logicalId}`));
        refs[logicalId] = `arn:aws:sns:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${name}`;
        refs[`${logicalId}.TopicName`] = name;
        refs[`${logicalId}.TopicArn`] = refs[logicalId] as string;
        break;
      }
      case 'AWS::Events::Rule': {
        const name = app.resolve(String(properties.Name ?? `${app.service}-${app.stage}-${logicalId}`));
        refs[`${logicalId}.Arn`] = `arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:rule/${name}`;
        break;
      }
      case 'AWS::IAM::Role':
        refs[logicalId] = logicalId;
        refs[`${logicalId}.Arn`] = `arn:aws:iam::${LOCAL_ACCOUNT}:role/${String(properties.RoleName ?? logicalId)}`;
        break;
      default:
        break;
    }
  }
  return refs;
};

/** One policy value as CloudFormation resolves it (YAML tags arrive as their plain text). */
const resolveValue = (value: string, refs: Record<string, string>, app: App): string => {
  if (value in refs) return refs[value] as string;
  return value.replace(/\$\{([^}!][^}]*)\}/g, (whole, expression: string) => {
    if (expression in refs) return refs[expression] as string;
    // Policy variables (`${aws:username}`) are IAM's, not CloudFormation's: kept for the evaluator.
    if (/^(aws|iot|s3|iam|sts):/.test(expression)) return whole;
    return app.resolve(whole, refs);
  });
};

export const resolveDeep = (value: unknown, refs: Record<string, string>, app: App): unknown => {
  if (typeof value === 'string') return resolveValue(value, refs, app);
  if (Array.isArray(value)) return value.map((item) => resolveDeep(item, refs, app));
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [resolveValue(key, refs, app), resolveDeep(item, refs, app)]),
    );
  return value;
};

/** Every AWS::IAM::Role of the app, by logical id, with its inline policies resolved. */
export const rolesOf = (app: App, bucket: string): Record<string, Role> => {
  const refs = resourceRefs(app, bucket);
  const roles: Record<string, Role> = {};
  for (const [logicalId, resource] of Object.entries(app.resources)) {
    if (resource.Type !== 'AWS::IAM::Role') continue;
    const policies = ((resource.Properties?.Policies ?? []) as Array<{ PolicyDocument: PolicyDocument }>).map(
      (policy) => resolveDeep(policy.PolicyDocument, refs, app) as PolicyDocument,
    );
    roles[logicalId] = { logicalId, arn: refs[`${logicalId}.Arn`] as string, policies };
  }
  return roles;
};

/** A role with one statement taken out: how tests show that each statement is needed. */
export const withoutStatement = (role: Role, matches: (statement: PolicyStatement) => boolean): Role => ({
  ...role,
  policies: role.policies.map((policy) => ({
    ...policy,
    Statement: [policy.Statement].flat().filter((statement) => !matches(statement)),
  })),
});
