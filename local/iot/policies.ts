/**
 * IoT policies (docs/aws-iot-rules.md, "Things and policies"): GetPolicy and ListAttachedPolicies
 * on the wire; created and attached to a certificate by JITP, or by the local stack for the policy
 * the deployment declares. Which targets each policy is attached to is kept on the policy.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { PolicyDocument } from '../iam/policy.ts';
import { invalid, notFound } from './errors.ts';
import { pageOf, pageSizeOf } from './paging.ts';
import type { RecordStore } from './store.ts';
import { fileId } from './things.ts';
import type { AccountContext } from './templates.ts';

export interface PolicyRecord {
  policyName: string;
  policyArn: string;
  policyDocument: string;
  defaultVersionId: string;
  creationDate: number;
  lastModifiedDate: number;
  generationId: string;
  /** ARNs of the principals (certificates) the policy is attached to. */
  targets: string[];
}

/** The model's PolicyName: 1–128 characters of `[\w+=,.@-]`. */
export const POLICY_NAME = /^[\w+=,.@-]{1,128}$/;
/** AWS IoT's published limit on a policy document: 2048 characters, whitespace not counted. */
const MAX_DOCUMENT_CHARS = 2048;

/** Why a policy document cannot be stored, or undefined when it can. */
export const documentProblem = (document: string): string | undefined => {
  if (document.replace(/\s/g, '').length > MAX_DOCUMENT_CHARS)
    return `the policy document is longer than ${MAX_DOCUMENT_CHARS} characters (whitespace not counted)`;
  try {
    const parsed = JSON.parse(document) as { Statement?: unknown };
    if (typeof parsed !== 'object' || parsed === null || parsed.Statement === undefined)
      return 'the policy document has no Statement';
  } catch {
    return 'the policy document is not valid JSON';
  }
  return undefined;
};

/** The name AWS gives a policy a template declares by document only: derived from the document. */
export const generatedPolicyName = (document: string): string => createHash('sha256').update(document).digest('hex');

export class Policies {
  constructor(
    private readonly records: Map<string, PolicyRecord>,
    private readonly store: RecordStore<PolicyRecord>,
    private readonly context: AccountContext & { targetExists: (arn: string) => boolean },
  ) {}

  arn(name: string): string {
    return `arn:aws:iot:${this.context.region}:${this.context.account}:policy/${name}`;
  }

  find(name: string): PolicyRecord | undefined {
    return this.records.get(name);
  }

  private save(record: PolicyRecord): void {
    this.context.track(this.store.put(fileId(record.policyName), record));
    this.records.set(record.policyName, record);
  }

  /** Creates a policy (CreatePolicy's rules); an existing one of the same name is kept as it is. */
  ensure(name: string, document: string): PolicyRecord {
    const existing = this.records.get(name);
    if (existing) return existing;
    if (!POLICY_NAME.test(name)) throw invalid(`Invalid policyName: ${name}`);
    const problem = documentProblem(document);
    if (problem) throw invalid(`The policy ${name} is malformed: ${problem}.`);
    const epoch = this.context.epoch();
    const record: PolicyRecord = {
      policyName: name,
      policyArn: this.arn(name),
      policyDocument: document,
      defaultVersionId: '1',
      creationDate: epoch,
      lastModifiedDate: epoch,
      generationId: randomUUID(),
      targets: [],
    };
    this.save(record);
    return record;
  }

  attach(name: string, targetArn: string): void {
    const record = this.records.get(name);
    if (!record) throw notFound(`The policy ${name} does not exist.`);
    if (record.targets.includes(targetArn)) return;
    this.save({ ...record, targets: [...record.targets, targetArn] });
  }

  /** The documents of the policies attached to `targetArn`, parsed, for the data plane's decisions. */
  documentsOf(targetArn: string): PolicyDocument[] {
    return [...this.records.values()]
      .filter((policy) => policy.targets.includes(targetArn))
      .map((policy) => JSON.parse(policy.policyDocument) as PolicyDocument);
  }

  get(name: string) {
    if (!POLICY_NAME.test(name)) throw invalid(`Invalid policyName: ${name}`);
    const policy = this.records.get(name);
    if (!policy) throw notFound(`The policy ${name} does not exist.`);
    const { targets: _targets, ...description } = policy;
    return description;
  }

  listAttached(target: string, query: { marker?: string; pageSize?: string; recursive?: string }) {
    if (!target) throw invalid('target is required.');
    if (!this.context.targetExists(target)) throw notFound(`The target ${target} does not exist.`);
    const attached = [...this.records.values()]
      .filter((policy) => policy.targets.includes(target))
      .sort((a, b) => a.policyName.localeCompare(b.policyName));
    const { page, next } = pageOf(attached, query.marker, pageSizeOf(query.pageSize, 'pageSize'));
    return {
      policies: page.map((policy) => ({ policyName: policy.policyName, policyArn: policy.policyArn })),
      ...(next ? { nextMarker: next } : {}),
    };
  }
}
