import type { CertificateMode, Tags } from './options.ts';
import type { ObjectRef } from './source.ts';

/** Every step receives the execution id so its logs can be joined to the execution. */
export interface StepInput {
  executionId?: string;
}

/** LoadCertificate's output, `$.certificate` in the state machine. Public material only. */
export interface LoadedCertificate {
  source: ObjectRef;
  certificateId: string;
  caPem: string;
  verificationPem?: string;
  /** Where the verification certificate came from: the CA file or its sibling object. */
  verificationSource?: 'same-file' | 'sibling';
  certificateMode: CertificateMode;
  templateName: string;
  /** Operator tags plus the pipeline's provenance tags: exactly what the CA should carry. */
  tags: Tags;
  subject: string;
  notAfter: string;
  warnings: string[];
}
