import { isTransientFailure, remedyFor } from './errors.ts';
import type { RegisteredCa } from './iot.ts';
import { redactKeyMaterial } from './redact.ts';
import type { ObjectRef } from './source.ts';
import type { LoadedCertificate } from './types.ts';

/** The schema tag of every result object (contract): bump it when a field changes meaning. */
export const RESULT_SCHEMA = 'iot-ca-pipeline/result@1';

/** What the state machine has accumulated when it reaches RecordResult/RecordFailure. */
export interface FlowState {
  certificate?: LoadedCertificate;
  registered?: RegisteredCa;
  error?: { Error?: string; Cause?: string };
  // The execution input's fields, and each step's result under its ResultPath.
  [field: string]: unknown;
}

interface ResultBase {
  schema: typeof RESULT_SCHEMA;
  source: ObjectRef;
  executionId?: string;
  startedAt?: string;
  finishedAt: string;
}

export interface Receipt extends ResultBase {
  outcome: 'ACTIVE';
  certificateId: string;
  certificateArn: string;
  certificateMode: string;
  templateName: string;
  tags: Record<string, string>;
  adopted: boolean;
  subject: string;
  notAfter: string;
  warnings: string[];
}

export interface FailureReport extends ResultBase {
  outcome: 'FAILED';
  /**
   * `transient`: the flow ended on throttling, a service fault or a timeout after its retries, not
   * on anything wrong with the file; the next reconciliation runs it again. Otherwise the failure
   * is final until the object changes.
   */
  error: { name: string; message: string; remedy: string; transient: boolean };
  certificateId?: string;
  subject?: string;
  /**
   * When this failure replaced a receipt: the CA that receipt registered is untouched by the failed
   * run (a flow only changes a CA in its own steps, and never deactivates one), so it is still as
   * the receipt left it, normally ACTIVE.
   */
  previous?: PreviousReceipt;
}

/** What a failure report keeps of the receipt it replaced. */
export interface PreviousReceipt {
  outcome: 'ACTIVE';
  certificateId: string;
  certificateArn: string;
  source: ObjectRef;
  finishedAt: string;
}

/** Step Functions' Cause is the Lambda error JSON (`errorMessage`) or, for States.* errors, text. */
export const causeMessage = (cause: string | undefined): string => {
  if (!cause) return '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return redactKeyMaterial(parsed.errorMessage);
  } catch {
    // not JSON: the cause is the message itself
  }
  return redactKeyMaterial(cause);
};

export const buildReceipt = (
  certificate: LoadedCertificate,
  registered: RegisteredCa,
  meta: { executionId?: string; startedAt?: string; finishedAt: string },
): Receipt => ({
  schema: RESULT_SCHEMA,
  outcome: 'ACTIVE',
  source: certificate.source,
  certificateId: registered.certificateId,
  certificateArn: registered.certificateArn,
  certificateMode: certificate.certificateMode,
  templateName: certificate.templateName,
  tags: certificate.tags,
  adopted: registered.adopted,
  subject: certificate.subject,
  notAfter: certificate.notAfter,
  warnings: certificate.warnings,
  ...meta,
});

export const buildFailureReport = (
  source: ObjectRef,
  error: { Error?: string; Cause?: string },
  certificate: LoadedCertificate | undefined,
  meta: { executionId?: string; startedAt?: string; finishedAt: string },
  replaced?: ResultBase & { outcome: string },
): FailureReport => {
  const name = error.Error ?? 'UnknownError';
  const previous = replaced ? previousReceipt(replaced) : undefined;
  return {
    schema: RESULT_SCHEMA,
    outcome: 'FAILED',
    source,
    error: { name, message: causeMessage(error.Cause), remedy: remedyFor(name), transient: isTransientFailure(name) },
    ...(certificate ? { certificateId: certificate.certificateId, subject: certificate.subject } : {}),
    ...(previous ? { previous } : {}),
    ...meta,
  };
};

/**
 * The receipt a failure is about to replace, as the report keeps it: the receipt itself, or what a
 * previous failure report kept of one (a second failure must not forget the live CA).
 */
const previousReceipt = (replaced: ResultBase & { outcome: string }): PreviousReceipt | undefined => {
  if (replaced.outcome === 'ACTIVE') {
    const receipt = replaced as Receipt;
    return { outcome: 'ACTIVE', certificateId: receipt.certificateId, certificateArn: receipt.certificateArn, source: receipt.source, finishedAt: receipt.finishedAt };
  }
  return (replaced as FailureReport).previous;
};
