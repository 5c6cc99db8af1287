/**
 * The template's Events rules and Conditions as CloudFormation reads them. App (local/app.ts)
 * reads serverless.yml with its YAML tags dropped, which loses `!If`, `!Sub` and `!Ref
 * AWS::NoValue`; here the resources are read again with the tags kept, as CloudFormation's JSON
 * form (`!Equals [a, b]` → `{"Fn::Equals": [a, b]}`), and resolved for the local stage: Conditions
 * with the stage's params (the notification topic exists only when `notifyEmail` is set), `!Ref`
 * and `!GetAtt` to the local resources' names and ARNs, `!Sub`, `!Join` and `!If`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, isSeq, type Node, parseDocument } from 'yaml';
import { type App, LOCAL_ACCOUNT, LOCAL_REGION } from '../app.ts';

/** A YAML node in CloudFormation's JSON form. */
const toIntrinsic = (node: Node | null | undefined): unknown => {
  if (!node) return null;
  let value: unknown;
  if (isMap(node))
    value = Object.fromEntries(
      node.items.map((pair) => [
        String(isScalar(pair.key) ? pair.key.value : pair.key),
        toIntrinsic(pair.value as Node),
      ]),
    );
  else if (isSeq(node)) value = node.items.map((item) => toIntrinsic(item as Node));
  else value = isScalar(node) ? node.value : node.toJSON();
  const tag = node.tag?.replace(/^!/, '');
  if (!tag || tag.startsWith('tag:')) return value;
  if (tag === 'GetAtt' && typeof value === 'string') return { 'Fn::GetAtt': value.split('.') };
  return { [tag === 'Ref' || tag === 'Condition' ? tag : `Fn::${tag}`]: value };
};

export interface TaggedTemplate {
  resources: Record<string, { Type?: string; Condition?: string; Properties?: Record<string, unknown> }>;
  conditions: Record<string, unknown>;
}

/** serverless.yml's resources and Conditions with their CloudFormation tags kept. */
export const taggedTemplate = (root: string): TaggedTemplate => {
  const document = parseDocument(readFileSync(join(root, 'serverless.yml'), 'utf8'), { logLevel: 'silent' });
  const read = (path: string[]) => (toIntrinsic(document.getIn(path, true) as Node | undefined) ?? {}) as never;
  return { resources: read(['resources', 'Resources']), conditions: read(['resources', 'Conditions']) };
};

const NO_VALUE = Symbol('AWS::NoValue');

const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': LOCAL_REGION,
  'AWS::AccountId': LOCAL_ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
};

/**
 * Resolves intrinsics for the local stage. `refs` maps logical ids (`X`, `X.Arn`) to local
 * values (local/iam/roles.ts resourceRefs). What cannot be resolved locally is an error, not a guess.
 */
export const templateResolver = (app: App, template: TaggedTemplate, refs: Record<string, string>) => {
  const sub = (text: string, variables: Record<string, string> = {}) =>
    // `${!name}` is !Sub's escape for a literal `${name}`.
    app.resolve(text.replaceAll('${!', '\u0000{'), { ...PSEUDO, ...refs, ...variables }).replaceAll('\u0000{', '${');
  const fail = (node: unknown): never => {
    throw new Error(`serverless.yml: the local stack cannot resolve ${JSON.stringify(node)}`);
  };
  /** A resource the local stack has no value for (an SQS queue): kept visible, so a target using it is reported. */
  const unresolved = (name: string) => `unresolved:${name}`;
  const holds = (name: string): boolean => {
    if (!(name in template.conditions)) throw new Error(`serverless.yml: no condition ${name} in resources.Conditions`);
    return resolve(template.conditions[name]) === true;
  };
  const resolve = (node: unknown): unknown => {
    // Serverless variables (${param:…}) are resolved everywhere, before CloudFormation sees the text.
    if (typeof node === 'string') return app.resolve(node);
    if (Array.isArray(node)) return node.map(resolve).filter((item) => item !== NO_VALUE);
    if (!node || typeof node !== 'object') return node;
    const entries = Object.entries(node);
    const [fn, argument] = entries[0] ?? [];
    const args = argument as unknown[];
    if (entries.length === 1 && fn === 'Ref') {
      const name = String(argument);
      if (name === 'AWS::NoValue') return NO_VALUE;
      return PSEUDO[name] ?? refs[name] ?? unresolved(name);
    }
    if (entries.length === 1 && fn === 'Condition') return holds(String(argument));
    if (entries.length === 1 && fn?.startsWith('Fn::')) {
      switch (fn) {
        case 'Fn::GetAtt': {
          const name = (Array.isArray(argument) ? argument : String(argument).split('.')).join('.');
          return refs[name] ?? unresolved(name);
        }
        case 'Fn::Sub':
          return Array.isArray(argument)
            ? sub(String(argument[0]), resolve(argument[1]) as Record<string, string>)
            : sub(String(argument));
        case 'Fn::Join':
          return (resolve(args[1]) as unknown[]).join(String(args[0]));
        case 'Fn::If':
          return holds(String(args[0])) ? resolve(args[1]) : resolve(args[2]);
        case 'Fn::Equals': {
          const [a, b] = args.map(resolve);
          return String(a) === String(b);
        }
        case 'Fn::Not':
          return resolve(args[0]) !== true;
        case 'Fn::And':
          return args.every((item) => resolve(item) === true);
        case 'Fn::Or':
          return args.some((item) => resolve(item) === true);
        default:
          return fail(node);
      }
    }
    const object: Record<string, unknown> = {};
    for (const [key, value] of entries) {
      const resolved = resolve(value);
      if (resolved !== NO_VALUE) object[app.resolve(key)] = resolved;
    }
    return object;
  };
  /** Whether a resource exists in this stage: declared, and its Condition (if any) holds. */
  const exists = (logicalId: string): boolean => {
    const resource = template.resources[logicalId];
    return resource !== undefined && (resource.Condition === undefined || holds(resource.Condition));
  };
  return { resolve, holds, exists };
};
