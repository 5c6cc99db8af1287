/**
 * An evaluator of AWS identity-based policies, as AWS documents policy evaluation for one account
 * with no resource policy, boundary, session policy or SCP: an explicit Deny wins, then any Allow,
 * else the request is implicitly denied. Pure and dependency-free: the local stack runs it on every
 * call a function makes. `test/referee/iam-evaluator.test.ts` checks it against iam-simulate (a
 * test-only reference: AGPL-3.0) and lists where the two part ways on purpose.
 *
 * - Action/NotAction: `*` and `?` wildcards, case-insensitive.
 * - Resource/NotResource: matched segment by segment (`arn:partition:service:region:account:resource`),
 *   case-sensitive, `*` and `?` within a segment; an ARN with fewer segments ends in `*`s. Policy
 *   variables (`${aws:username}`, `${aws:x, 'default'}`, and `${*}` `${?}` `${$}` for the literal
 *   characters) come from the request's context; a variable with no value matches nothing (and so a
 *   NotResource naming it does not apply either).
 * - Condition: String*, Arn*, Bool, Null, Numeric*, Date* (ISO 8601 or epoch seconds), each with
 *   `IfExists` and the `ForAnyValue:`/`ForAllValues:` qualifiers. Values of one key OR (for a negated
 *   operator: the context value must match none of them); keys and operators AND. Context keys are
 *   case-insensitive. A missing key fails the condition, except under IfExists, a negated operator,
 *   ForAllValues, or Null. A multi-valued context key needs a set qualifier: a plain operator fails
 *   on it. Any other operator (IpAddress, Binary…) throws rather than guess.
 */

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, string | string[] | boolean | number | Array<string | boolean | number>>>;
}

export interface PolicyDocument {
  Version?: string;
  Statement: PolicyStatement | PolicyStatement[];
}

export interface AuthorizationRequest {
  action: string;
  resource: string;
  context?: Record<string, string | string[] | undefined>;
}

export type Decision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

type Context = AuthorizationRequest['context'];
/** A comparison's outcome; `undefined` when the values cannot be compared (it then fails, negated or not). */
type Outcome = boolean | undefined;

const lookup = (context: Context, key: string): string | string[] | undefined => {
  const wanted = key.toLowerCase();
  for (const [name, value] of Object.entries(context ?? {})) if (name.toLowerCase() === wanted) return value;
  return undefined;
};

const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `${key}` or `${key, 'default'}`; `${*}`, `${?}` and `${$}` stand for the character itself. */
const variable = (inside: string, context: Context): string | undefined => {
  if (inside === '*' || inside === '?' || inside === '$') return inside;
  const [, key = '', fallback] = /^\s*([^,]*?)\s*(?:,\s*'(.*)')?\s*$/.exec(inside) ?? [];
  const value = lookup(context, key);
  return typeof value === 'string' ? value : fallback;
};

/**
 * Every request is judged against the same few policy strings: their patterns and compiled
 * RegExps are kept (each cache bounded; a pattern with a variable is kept per resolved value).
 * Compiling them anew for each request was most of the evaluator's time on the stack's main thread.
 */
const patterns = new Map<string, string>();
const compiled = new Map<string, RegExp>();
const remember = <T>(cache: Map<string, T>, key: string, value: T): T => {
  if (cache.size >= 10_000) cache.clear();
  cache.set(key, value);
  return value;
};

/**
 * A policy string as the source of a RegExp: `*`/`?` as wildcards when `wildcards`, policy variables
 * resolved from `context` (`null`: the string takes none). `undefined` if a variable has no value.
 */
const toPattern = (text: string, context: Context | null, wildcards: boolean): string | undefined => {
  // Without a variable the pattern depends on the text alone: worked out once per policy string.
  const constant = context === null || !text.includes('${');
  const key = `${wildcards}\n${text}`;
  if (constant && patterns.has(key)) return patterns.get(key);
  let source = '';
  for (const [token, inside] of text.matchAll(/\$\{([^}]*)\}|[*?]|[^$*?]+|\$/g)) {
    if (inside !== undefined && context !== null) {
      const value = variable(inside, context);
      if (value === undefined) return undefined;
      source += escapeRegex(value);
    } else if (wildcards && (token === '*' || token === '?')) source += token === '*' ? '.*' : '.';
    else source += escapeRegex(token);
  }
  if (constant) remember(patterns, key, source);
  return source;
};

const test = (pattern: string | undefined, value: string, flags = ''): Outcome => {
  if (pattern === undefined) return undefined;
  const key = `${flags}\n${pattern}`;
  const regex = compiled.get(key) ?? remember(compiled, key, new RegExp(`^${pattern}$`, `s${flags}`));
  return regex.test(value);
};

/** The six parts of an ARN, the last one keeping its colons; `undefined` if it has fewer. */
const arnParts = (arn: string): string[] | undefined => {
  const parts = arn.split(':');
  return parts.length < 6 ? undefined : [...parts.slice(0, 5), parts.slice(5).join(':')];
};

/** Segment by segment, wildcards within each; a short policy ARN ends in `*` (AWS: a last `*` spans colons). */
const arnMatches = (pattern: string, arn: string, context: Context, padShort: boolean): Outcome => {
  const segments = pattern.split(':');
  const wanted = arnParts(
    padShort && segments.length < 6 ? [...segments, '*', '*', '*', '*'].slice(0, 6).join(':') : pattern,
  );
  const actual = arnParts(arn);
  if (!wanted || !actual) return undefined;
  for (const [index, part] of wanted.entries()) {
    const outcome = test(toPattern(part, context, true), actual[index] as string);
    if (outcome !== true) return outcome;
  }
  return true;
};

/** `*` matches every resource, `*` included (the resource of an action that takes no resource type). */
const resourceMatches = (pattern: string, resource: string, context: Context): Outcome =>
  pattern === '*' ||
  (pattern.includes(':') && arnParts(resource) ? arnMatches(pattern, resource, context, true) : false);

const number = (text: string): number | undefined =>
  /^[+-]?(\d+\.?\d*|\.\d+)$/.test(text.trim()) ? Number(text) : undefined;
const date = (text: string): number | undefined => {
  const epoch = /^\d+$/.test(text.trim()) ? Number(text) * 1000 : Date.parse(text);
  return Number.isNaN(epoch) ? undefined : epoch;
};
const boolean = (text: string): string | undefined =>
  ['true', 'false'].includes(text.toLowerCase()) ? text.toLowerCase() : undefined;

type Comparison = (actual: string, policy: string, context: Context) => Outcome;

const ordered = (parse: (text: string) => number | undefined): Record<string, Comparison> => {
  const compare =
    (check: (actual: number, policy: number) => boolean): Comparison =>
    (actual, policy) => {
      const [a, p] = [parse(actual), parse(policy)];
      return a === undefined || p === undefined ? undefined : check(a, p);
    };
  return {
    Equals: compare((a, p) => a === p),
    LessThan: compare((a, p) => a < p),
    LessThanEquals: compare((a, p) => a <= p),
    GreaterThan: compare((a, p) => a > p),
    GreaterThanEquals: compare((a, p) => a >= p),
  };
};

/** The positive operators, by lower-case name; each `…Not…` operator is its negation. */
const OPERATORS = new Map<string, Comparison>(
  Object.entries({
    StringEquals: (actual, policy, context) => test(toPattern(policy, context, false), actual),
    StringEqualsIgnoreCase: (actual, policy, context) => test(toPattern(policy, context, false), actual, 'i'),
    StringLike: (actual, policy, context) => test(toPattern(policy, context, true), actual),
    ArnEquals: (actual, policy, context) => arnMatches(policy, actual, context, false),
    ArnLike: (actual, policy, context) => arnMatches(policy, actual, context, false),
    Bool: (actual, policy) => {
      const [a, p] = [boolean(actual), boolean(policy)];
      return a === undefined || p === undefined ? undefined : a === p;
    },
    ...Object.fromEntries(Object.entries(ordered(number)).map(([name, check]) => [`Numeric${name}`, check])),
    ...Object.fromEntries(Object.entries(ordered(date)).map(([name, check]) => [`Date${name}`, check])),
  } satisfies Record<string, Comparison>).map(([name, check]) => [name.toLowerCase(), check]),
);

const conditionHolds = (operator: string, key: string, policyValues: unknown, context: Context): boolean => {
  const [, qualifier, name = '', ifExists] = /^(?:(ForAnyValue|ForAllValues):)?(.+?)(IfExists)?$/i.exec(operator) ?? [];
  const values = [policyValues].flat().map(String);
  const actual = lookup(context, key);
  if (name.toLowerCase() === 'null')
    return values.some((value) => value.toLowerCase() === String(actual === undefined));
  const negated = /^\w+Not(Equals|Like)/i.test(name);
  const check = OPERATORS.get(name.replace(/Not(?=Equals|Like)/i, '').toLowerCase());
  if (!check) throw new Error(`IAM: the local evaluator does not support the condition operator ${operator}`);
  const forAll = qualifier?.toLowerCase() === 'forallvalues';
  if (actual === undefined) return ifExists !== undefined || (qualifier ? forAll : negated);
  const one = (value: string): boolean => {
    const outcomes = values.map((policy) => check(value, policy, context));
    return negated ? outcomes.every((outcome) => outcome === false) : outcomes.some((outcome) => outcome === true);
  };
  if (!qualifier) return typeof actual === 'string' && one(actual);
  return forAll ? [actual].flat().every(one) : [actual].flat().some(one);
};

const list = (value: string | string[] | undefined): string[] | undefined =>
  value === undefined ? undefined : [value].flat();

const applies = (statement: PolicyStatement, { action, resource, context }: AuthorizationRequest): boolean => {
  const actionMatches = (pattern: string) => test(toPattern(pattern, null, true), action, 'i') === true;
  const [actions, notActions] = [list(statement.Action), list(statement.NotAction)];
  if (actions ? !actions.some(actionMatches) : !notActions || notActions.some(actionMatches)) return false;
  const [resources, notResources] = [list(statement.Resource), list(statement.NotResource)];
  const outcomes = (patterns: string[]) => patterns.map((pattern) => resourceMatches(pattern, resource, context));
  if (resources && !outcomes(resources).some((outcome) => outcome === true)) return false;
  if (notResources && !outcomes(notResources).every((outcome) => outcome === false)) return false;
  return Object.entries(statement.Condition ?? {}).every(([operator, block]) =>
    Object.entries(block).every(([key, values]) => conditionHolds(operator, key, values, context)),
  );
};

export const evaluate = (
  request: AuthorizationRequest,
  policies: PolicyDocument[],
): { decision: Decision; statement?: PolicyStatement } => {
  const statements = policies.flatMap((policy) => [policy.Statement].flat());
  const deny = statements.find((statement) => statement.Effect === 'Deny' && applies(statement, request));
  if (deny) return { decision: 'ExplicitlyDenied', statement: deny };
  const allow = statements.find((statement) => statement.Effect === 'Allow' && applies(statement, request));
  return allow ? { decision: 'Allowed', statement: allow } : { decision: 'ImplicitlyDenied' };
};
