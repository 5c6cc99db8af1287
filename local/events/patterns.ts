/**
 * EventBridge event patterns, matched as the default bus matches them, written by hand because no
 * npm package implements them (docs/adr/0023-local-eventbridge.md). The semantics follow AWS's
 * "Amazon EventBridge event patterns" and "Comparison operators for use in event patterns" pages
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html,
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html):
 *
 * - a pattern is a JSON object mirroring the event; every field it names must match (AND), and
 *   each leaf is an array of matchers of which one must match (OR); `$or` takes sub-patterns;
 * - exact values (strings, numbers compared as numbers, booleans, null), `prefix`, `suffix`
 *   (each also as `{equals-ignore-case}`), `equals-ignore-case`, `wildcard` (`*`, `\*` literal),
 *   `anything-but` (values, `{prefix}`, `{suffix}`, `{equals-ignore-case}`, `{wildcard}`),
 *   `numeric` (`=`, `<`, `<=`, `>`, `>=`, two bounds at most), `exists`;
 * - an array in the event matches when any of its elements matches; a matcher other than
 *   `exists: false` needs the field to be present; `exists` applies to leaves only.
 *
 * `cidr` is not emulated: a pattern using it is refused rather than matched wrongly.
 */

/** What PutRule answers for a pattern EventBridge would not accept. */
export class InvalidEventPatternError extends Error {
  override readonly name = 'InvalidEventPatternException';
  constructor(reason: string) {
    super(`Event pattern is not valid. Reason: ${reason}`);
  }
}

type Scalar = string | number | boolean | null;
type Test = (value: unknown) => boolean;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isScalar = (value: unknown): value is Scalar =>
  value === null || ['string', 'number', 'boolean'].includes(typeof value);

const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `*` is any run of characters, `\*` a literal star, `\\` a literal backslash. */
const wildcardRegex = (wildcard: string, flags = ''): RegExp => {
  if (wildcard.includes('**')) throw new InvalidEventPatternError('Consecutive wildcard characters are not allowed');
  let source = '';
  for (let index = 0; index < wildcard.length; index++) {
    const char = wildcard[index] as string;
    if (char === '\\' && (wildcard[index + 1] === '*' || wildcard[index + 1] === '\\')) {
      source += escapeRegex(wildcard[++index] as string);
    } else source += char === '*' ? '.*' : escapeRegex(char);
  }
  return new RegExp(`^${source}$`, `s${flags}`);
};

const exact =
  (expected: Scalar): Test =>
  (value) =>
    typeof expected === 'number' ? typeof value === 'number' && value === expected : value === expected;

const stringOrIgnoreCase = (operator: string, operand: unknown): { text: string; ignoreCase: boolean } => {
  if (typeof operand === 'string') return { text: operand, ignoreCase: false };
  if (isObject(operand) && typeof operand['equals-ignore-case'] === 'string' && Object.keys(operand).length === 1)
    return { text: operand['equals-ignore-case'] as string, ignoreCase: true };
  throw new InvalidEventPatternError(`${operator} match pattern must be a string or {"equals-ignore-case": string}`);
};

const affix = (operator: 'prefix' | 'suffix', operand: unknown): Test => {
  const { text, ignoreCase } = stringOrIgnoreCase(operator, operand);
  const wanted = ignoreCase ? text.toLowerCase() : text;
  return (value) => {
    if (typeof value !== 'string') return false;
    const actual = ignoreCase ? value.toLowerCase() : value;
    return operator === 'prefix' ? actual.startsWith(wanted) : actual.endsWith(wanted);
  };
};

const stringTest = (operator: string, operand: unknown, make: (text: string) => Test): Test => {
  const values = Array.isArray(operand) ? operand : [operand];
  if (values.length === 0 || !values.every((item) => typeof item === 'string'))
    throw new InvalidEventPatternError(`${operator} must be a string or an array of strings`);
  const tests = (values as string[]).map(make);
  return (value) => tests.some((test) => test(value));
};

const ignoreCase = (text: string): Test => {
  const wanted = text.toLowerCase();
  return (value) => typeof value === 'string' && value.toLowerCase() === wanted;
};

const wildcard = (text: string): Test => {
  const regex = wildcardRegex(text);
  return (value) => typeof value === 'string' && regex.test(value);
};

const NUMERIC_OPERATORS: Record<string, (a: number, b: number) => boolean> = {
  '=': (a, b) => a === b,
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
};

const numeric = (operand: unknown): Test => {
  if (!Array.isArray(operand) || operand.length === 0 || operand.length % 2 !== 0 || operand.length > 4)
    throw new InvalidEventPatternError('numeric takes one or two [operator, number] pairs');
  const checks: Array<(value: number) => boolean> = [];
  for (let index = 0; index < operand.length; index += 2) {
    const compare = NUMERIC_OPERATORS[String(operand[index])];
    const bound = operand[index + 1];
    if (!compare || typeof bound !== 'number')
      throw new InvalidEventPatternError(`Unrecognized numeric range operator: ${String(operand[index])}`);
    checks.push((value) => compare(value, bound));
  }
  return (value) => typeof value === 'number' && checks.every((check) => check(value));
};

const anythingBut = (operand: unknown): Test => {
  let excluded: Test;
  if (isObject(operand)) {
    const [operator, inner] = Object.entries(operand)[0] ?? [];
    if (Object.keys(operand).length !== 1 || operator === undefined)
      throw new InvalidEventPatternError('anything-but takes one operator');
    if (operator === 'prefix' || operator === 'suffix') excluded = affix(operator, inner);
    else if (operator === 'equals-ignore-case') excluded = stringTest(operator, inner, ignoreCase);
    else if (operator === 'wildcard') excluded = stringTest(operator, inner, wildcard);
    else throw new InvalidEventPatternError(`Unsupported anything-but pattern: ${operator}`);
  } else {
    const values = Array.isArray(operand) ? operand : [operand];
    if (!values.every(isScalar)) throw new InvalidEventPatternError('anything-but values must be strings or numbers');
    const tests = values.map(exact);
    excluded = (value) => tests.some((test) => test(value));
  }
  return (value) => !excluded(value);
};

interface Leaf {
  /** `exists: false` is the one matcher that holds for an absent field. */
  absentMatches: boolean;
  /** A present value (one element of an array) against the matchers other than `exists`. */
  test: Test;
  /** `exists: true`: any present leaf value. */
  existsTrue: boolean;
}

const compileMatcher = (matcher: unknown): Partial<Leaf> & { test?: Test } => {
  if (isScalar(matcher)) return { test: exact(matcher) };
  if (!isObject(matcher) || Object.keys(matcher).length !== 1)
    throw new InvalidEventPatternError(
      `Match value must be String, number, true, false, or null: ${JSON.stringify(matcher)}`,
    );
  const [operator, operand] = Object.entries(matcher)[0] as [string, unknown];
  switch (operator) {
    case 'prefix':
    case 'suffix':
      return { test: affix(operator, operand) };
    case 'equals-ignore-case':
      if (typeof operand !== 'string') throw new InvalidEventPatternError('equals-ignore-case must be a string');
      return { test: ignoreCase(operand) };
    case 'wildcard':
      if (typeof operand !== 'string') throw new InvalidEventPatternError('wildcard must be a string');
      return { test: wildcard(operand) };
    case 'anything-but':
      return { test: anythingBut(operand) };
    case 'numeric':
      return { test: numeric(operand) };
    case 'exists':
      if (typeof operand !== 'boolean')
        throw new InvalidEventPatternError('exists match pattern must be true or false');
      return operand ? { existsTrue: true } : { absentMatches: true };
    case 'cidr':
      throw new InvalidEventPatternError('cidr is not emulated by the local EventBridge (docs/adr/0023)');
    default:
      throw new InvalidEventPatternError(`Unrecognized match type ${operator}`);
  }
};

/** One leaf's array of matchers, as a test of the field (`present` false when the event lacks it). */
export const compileLeaf = (matchers: unknown[]): ((present: boolean, value: unknown) => boolean) => {
  const compiled = matchers.map(compileMatcher);
  const tests = compiled.flatMap((entry) => (entry.test ? [entry.test] : []));
  const absentMatches = compiled.some((entry) => entry.absentMatches);
  const existsTrue = compiled.some((entry) => entry.existsTrue);
  const one = (value: unknown) => (existsTrue && !isObject(value)) || tests.some((test) => test(value));
  return (present, value) => {
    // An empty array is no value at all, as EventBridge flattens events.
    const values = !present ? [] : Array.isArray(value) ? value : [value];
    if (values.length === 0) return absentMatches;
    return values.some(one);
  };
};

type Matcher = (value: unknown) => boolean;

const compileObject = (pattern: unknown, path: string): Matcher => {
  if (!isObject(pattern)) throw new InvalidEventPatternError(`${path || 'Event pattern'} must be a JSON object`);
  const fields: Matcher[] = [];
  for (const [key, sub] of Object.entries(pattern)) {
    const where = path ? `${path}.${key}` : key;
    if (key === '$or') {
      if (!Array.isArray(sub) || sub.length < 2)
        throw new InvalidEventPatternError('$or must be an array of at least two patterns');
      const alternatives = sub.map((alternative) => compileObject(alternative, where));
      fields.push((value) => alternatives.some((alternative) => alternative(value)));
    } else if (Array.isArray(sub)) {
      const leaf = compileLeaf(sub);
      fields.push((value) => {
        const present = isObject(value) && Object.hasOwn(value, key) && value[key] !== undefined;
        return leaf(present, present ? (value as Record<string, unknown>)[key] : undefined);
      });
    } else if (isObject(sub)) {
      const nested = compileObject(sub, where);
      fields.push((value) => {
        const child = isObject(value) ? value[key] : undefined;
        // An array of objects matches when one of its elements does.
        return Array.isArray(child) ? child.some((element) => nested(element)) : nested(child ?? {});
      });
    } else throw new InvalidEventPatternError(`"${where}" must be an object or an array`);
  }
  return (value) => fields.every((field) => field(value));
};

/** Compiles a pattern (an object, or its JSON text); throws InvalidEventPatternError as PutRule would. */
export const compilePattern = (pattern: unknown): Matcher => {
  let parsed = pattern;
  if (typeof pattern === 'string') {
    try {
      parsed = JSON.parse(pattern);
    } catch {
      throw new InvalidEventPatternError('Filter is not valid JSON');
    }
  }
  return compileObject(parsed, '');
};

/** Whether an event (the envelope: source, detail-type, detail, ...) matches a pattern. */
export const matchesPattern = (pattern: unknown, event: unknown): boolean => compilePattern(pattern)(event);
