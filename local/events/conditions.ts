/**
 * CloudFormation Conditions (`resources.Conditions` of serverless.yml) evaluated for the local
 * stage, so that a resource with `Condition: X` exists locally only when it would be created on
 * AWS (the notification topic exists only when `notifyEmail` is set). App reads the template
 * with its YAML tags dropped; here the Conditions section is read again with its tags kept.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, isSeq, type Node, parseDocument } from 'yaml';
import type { App } from '../app.ts';

type Intrinsic = unknown;

/** A YAML node as CloudFormation's JSON form: `!Equals [a, b]` → `{"Fn::Equals": [a, b]}`. */
const toIntrinsic = (node: Node | null | undefined): Intrinsic => {
  if (!node) return null;
  let value: Intrinsic;
  if (isMap(node)) {
    value = Object.fromEntries(
      node.items.map((pair) => [
        String((pair.key as Node & { value?: unknown })?.toJSON?.() ?? pair.key),
        toIntrinsic(pair.value as Node),
      ]),
    );
  } else if (isSeq(node)) value = node.items.map((item) => toIntrinsic(item as Node));
  else value = isScalar(node) ? node.value : node.toJSON();
  const tag = node.tag?.replace(/^!/, '');
  if (!tag || tag.startsWith('tag:')) return value;
  return { [tag === 'Ref' || tag === 'Condition' ? tag : `Fn::${tag}`]: value };
};

/** The Conditions of serverless.yml's resources, in CloudFormation's JSON form. */
export const templateConditions = (root: string): Record<string, Intrinsic> => {
  const document = parseDocument(readFileSync(join(root, 'serverless.yml'), 'utf8'), { logLevel: 'silent' });
  const node = document.getIn(['resources', 'Conditions'], true) as Node | undefined;
  const conditions = toIntrinsic(node);
  return (conditions && typeof conditions === 'object' ? conditions : {}) as Record<string, Intrinsic>;
};

/**
 * Evaluates conditions with the stage's params (`${param:x}` resolved as packaging does). What
 * the local stack cannot evaluate (a `!Ref` to a CloudFormation parameter) is an error, not false.
 */
export const conditionEvaluator = (app: App, conditions: Record<string, Intrinsic>) => {
  const value = (node: Intrinsic): unknown => {
    if (typeof node === 'string') return app.resolve(node);
    if (Array.isArray(node)) return node.map(value);
    if (node && typeof node === 'object') {
      const [fn, argument] = Object.entries(node)[0] ?? [];
      if (fn === 'Condition') return holds(String(argument));
      if (fn === 'Fn::Equals') {
        const [a, b] = (argument as Intrinsic[]).map(value);
        return String(a) === String(b);
      }
      if (fn === 'Fn::Not') return !truthy((argument as Intrinsic[])[0]);
      if (fn === 'Fn::And') return (argument as Intrinsic[]).every(truthy);
      if (fn === 'Fn::Or') return (argument as Intrinsic[]).some(truthy);
      if (fn === 'Ref' && argument === 'AWS::Region') return 'us-east-1';
      throw new Error(`serverless.yml Conditions: the local stack cannot evaluate ${JSON.stringify(node)}`);
    }
    return node;
  };
  const truthy = (node: Intrinsic): boolean => value(node) === true;
  const holds = (name: string): boolean => {
    if (!(name in conditions)) throw new Error(`serverless.yml: no condition ${name} in resources.Conditions`);
    return truthy(conditions[name]);
  };
  return holds;
};

/** Whether a resource of the template exists in the local stage (no Condition, or it holds). */
export const resourceExists = (app: App, holds: (name: string) => boolean, logicalId: string): boolean => {
  const condition = (app.resources[logicalId] as { Condition?: string } | undefined)?.Condition;
  return app.resources[logicalId] !== undefined && (condition === undefined || holds(condition));
};
