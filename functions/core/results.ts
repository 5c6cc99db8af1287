import { isTransientFailure, remedyFor } from './errors.ts';
import { redactKeyMaterial } from './redact.ts';
import {
  RESULT_SCHEMA,
  type FailureReport,
  type LoadedCertificate,
  type ObjectRef,
  type Ownership,
  type PreviousReceipt,
  type Receipt,
  type RegisteredCa,
} from './schemas.ts';

export { RESULT_SCHEMA } from './schemas.ts';
export type { FailureReport, FlowState, PreviousReceipt, Receipt, ResultDocument } from './schemas.ts';

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
  ownership: ownershipOf(certificate),
  replaces: certificate.announcement?.replaces ?? null,
  ...meta,
});

/**
 * How the flow proved ownership, as LoadCertificate planned it (a flow that reaches the receipt
 * proved it that way). A certificate from before the field existed: by its mode.
 */
export const ownershipOf = (certificate: LoadedCertificate): Ownership =>
  certificate.ownership ?? { method: certificate.certificateMode === 'SNI_ONLY' ? 'none' : 'verification-certificate' };

export const buildFailureReport = (
  source: ObjectRef,
  error: { Error?: string | undefined; Cause?: string | undefined },
  certificate: LoadedCertificate | undefined,
  meta: { executionId?: string; startedAt?: string; finishedAt: string },
  replaced?: Receipt | FailureReport,
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
const previousReceipt = (replaced: Receipt | FailureReport): PreviousReceipt | undefined =>
  replaced.outcome === 'ACTIVE'
    ? {
        outcome: 'ACTIVE',
        certificateId: replaced.certificateId,
        certificateArn: replaced.certificateArn,
        source: replaced.source,
        finishedAt: replaced.finishedAt,
      }
    : replaced.previous;
