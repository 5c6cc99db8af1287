/**
 * Things in the registry (docs/aws-iot-rules.md, "Things and policies"): DescribeThing and
 * ListThingPrincipals on the wire; created and attached to a certificate by JITP.
 */
import { randomUUID } from 'node:crypto';
import { invalid, notFound } from './errors.ts';
import { pageOf } from './paging.ts';
import type { RecordStore } from './store.ts';
import type { AccountContext } from './templates.ts';

export interface ThingRecord {
  thingName: string;
  thingId: string;
  thingArn: string;
  attributes: Record<string, string>;
  thingTypeName?: string;
  version: number;
  /** ARNs of the certificates attached to the Thing. */
  principals: string[];
}

/** The model's ThingName: 1–128 characters of `[a-zA-Z0-9:_-]`. */
export const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
/** Attribute names and values, as the model's AttributeName and AttributeValue give them. */
const ATTRIBUTE_NAME = /^[a-zA-Z0-9_.,@/:#=[\]-]{1,128}$/;
const ATTRIBUTE_VALUE = /^[a-zA-Z0-9_.,@/:#=[\]-]{0,800}$/;
/** A Thing without a thing type has at most 3 attributes (AWS IoT's published limit). */
const MAX_ATTRIBUTES_WITHOUT_TYPE = 3;

/** A file-safe record id for a name that may hold `:` (thing and policy names). */
export const fileId = (name: string): string => Buffer.from(name, 'utf8').toString('base64url');

/** Why a Thing with these properties cannot be made, or undefined when it can. */
export const thingProblem = (name: string, attributes: Record<string, string>, typed: boolean): string | undefined => {
  if (!THING_NAME.test(name)) return `the Thing name ${JSON.stringify(name)} is not 1-128 characters of [a-zA-Z0-9:_-]`;
  const entries = Object.entries(attributes);
  if (!typed && entries.length > MAX_ATTRIBUTES_WITHOUT_TYPE)
    return `a Thing without a thing type has at most ${MAX_ATTRIBUTES_WITHOUT_TYPE} attributes (${entries.length} given)`;
  for (const [key, value] of entries) {
    if (!ATTRIBUTE_NAME.test(key)) return `the attribute name ${JSON.stringify(key)} is not valid`;
    if (!ATTRIBUTE_VALUE.test(value)) return `the attribute ${key}'s value ${JSON.stringify(value)} is not valid`;
  }
  return undefined;
};

export class Things {
  constructor(
    private readonly records: Map<string, ThingRecord>,
    private readonly store: RecordStore<ThingRecord>,
    private readonly context: AccountContext,
  ) {}

  arn(name: string): string {
    return `arn:aws:iot:${this.context.region}:${this.context.account}:thing/${name}`;
  }

  find(name: string): ThingRecord | undefined {
    return this.records.get(name);
  }

  private save(record: ThingRecord): void {
    this.context.track(this.store.put(fileId(record.thingName), record));
    this.records.set(record.thingName, record);
  }

  private get(name: string): ThingRecord {
    if (!THING_NAME.test(name)) throw invalid(`Invalid thingName: ${name}`);
    const record = this.records.get(name);
    if (!record) throw notFound(`The Thing ${name} does not exist.`);
    return record;
  }

  /** Creates the Thing, or merges attributes into the one that exists (JITP's default override). */
  upsert(name: string, attributes: Record<string, string>, thingTypeName?: string): ThingRecord {
    const existing = this.records.get(name);
    const record: ThingRecord = existing
      ? { ...existing, attributes: { ...existing.attributes, ...attributes }, version: existing.version + 1 }
      : {
          thingName: name,
          thingId: randomUUID(),
          thingArn: this.arn(name),
          attributes,
          ...(thingTypeName ? { thingTypeName } : {}),
          version: 1,
          principals: [],
        };
    this.save(record);
    return record;
  }

  attachPrincipal(name: string, principalArn: string): void {
    const record = this.get(name);
    if (record.principals.includes(principalArn)) return;
    this.save({ ...record, principals: [...record.principals, principalArn] });
  }

  /** The Things a principal is attached to. */
  thingsOf(principalArn: string): ThingRecord[] {
    return [...this.records.values()].filter((thing) => thing.principals.includes(principalArn));
  }

  describe(name: string) {
    const thing = this.get(name);
    return {
      defaultClientId: thing.thingName,
      thingName: thing.thingName,
      thingId: thing.thingId,
      thingArn: thing.thingArn,
      ...(thing.thingTypeName ? { thingTypeName: thing.thingTypeName } : {}),
      attributes: thing.attributes,
      version: thing.version,
    };
  }

  listPrincipals(name: string, query: { nextToken?: string; maxResults?: string }) {
    const thing = this.get(name);
    const size = query.maxResults === undefined ? 25 : Number(query.maxResults);
    if (!Number.isInteger(size) || size < 1 || size > 250) throw invalid('maxResults must be 1-250.');
    const { page, next } = pageOf(thing.principals, query.nextToken, size, 'nextToken');
    return { principals: page, ...(next ? { nextToken: next } : {}) };
  }
}
