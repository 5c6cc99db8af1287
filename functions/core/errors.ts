/**
 * The named errors of the pipeline. Their `name` is the state machine's contract: the ASL
 * catches business errors by these names and retries only the transient ones, and the failure
 * report tells the operator what to do from the same table.
 *
 * Messages never quote the uploaded object: it may hold private-key material.
 */

export type ErrorKind = 'business' | 'transient';

interface ErrorSpec {
  kind: ErrorKind;
  /** What the operator should do about it, written into the failure report. */
  remedy: string;
}

export const ERROR_SPECS = {
  // Input and options
  InvalidInputError: {
    kind: 'business',
    remedy: 'Start the execution with {"bucket": "...", "key": "..."} or an S3 "Object Created" event.',
  },
  InvalidOptionsError: {
    kind: 'business',
    remedy:
      'Fix the object metadata: certificate-mode (DEFAULT|SNI_ONLY), template-name, tags (k1=v1&k2=v2), signer (kms:<key id|alias/name|ARN> or pca:<certificate-authority ARN>, DEFAULT mode only), replaces (the 64-hex certificateId of the CA it replaces); then upload the file again.',
  },
  ObjectNotFoundError: {
    kind: 'business',
    remedy: 'Upload the certificate again; the object was deleted or replaced before it could be read.',
  },
  ObjectTooLargeError: {
    kind: 'business',
    remedy: 'Upload one CA certificate (and at most its verification certificate) per file, under 65536 characters.',
  },
  // What the file holds
  PrivateKeyMaterialError: {
    kind: 'business',
    remedy:
      'Never upload private keys. Remove the key from the file, treat the key as exposed to whoever can read the bucket, and upload the certificate alone.',
  },
  NotPemError: {
    kind: 'business',
    remedy:
      'Upload a PEM file (-----BEGIN CERTIFICATE-----). From DER: openssl x509 -inform der -in ca.der -out ca.pem',
  },
  MalformedPemError: {
    kind: 'business',
    remedy: 'The PEM block is truncated or corrupted; export the certificate again.',
  },
  NotACertificateError: {
    kind: 'business',
    remedy:
      'Upload the CA certificate itself, not a CSR, a public key or a PKCS#7 bundle (openssl pkcs7 -print_certs extracts certificates from a bundle).',
  },
  AmbiguousCaError: {
    kind: 'business',
    remedy: 'Upload one CA per file: the CA certificate, optionally followed by its verification certificate.',
  },
  TooManyCertificatesError: {
    kind: 'business',
    remedy: 'A file holds the CA certificate and at most one verification certificate; remove the others.',
  },
  NotACaError: {
    kind: 'business',
    remedy: 'Upload a CA certificate: it must carry basicConstraints CA:TRUE.',
  },
  CertificateExpiredError: {
    kind: 'business',
    remedy: 'The CA certificate has expired; issue or renew the CA and upload the new certificate.',
  },
  CertificateNotYetValidError: {
    kind: 'business',
    remedy: 'The CA certificate is not valid yet; check its notBefore date and the issuing clock, then upload again.',
  },
  UnsupportedKeyError: {
    kind: 'business',
    remedy:
      'AWS IoT accepts RSA keys of 2048 bits or more and ECDSA P-256 or P-384 keys; issue the CA with one of them.',
  },
  UnsupportedSignatureAlgorithmError: {
    kind: 'business',
    remedy: 'AWS IoT accepts SHA-256/384/512 with RSA, RSASSA-PSS or ECDSA; re-issue the certificate with one of them.',
  },
  // Ownership verification
  VerificationCertificateMissingError: {
    kind: 'business',
    remedy:
      'DEFAULT mode needs a verification certificate: put it after the CA in the same file or upload <name>.verification.pem beside it (CN = the registration code, signed by the CA key). Or use certificate-mode SNI_ONLY.',
  },
  VerificationNotAllowedError: {
    kind: 'business',
    remedy: 'SNI_ONLY mode takes no verification certificate: remove it from the file or use certificate-mode DEFAULT.',
  },
  RegistrationCodeMismatchError: {
    kind: 'business',
    remedy:
      'Issue a verification certificate whose subject CN is exactly the current registration code (iot-ca registration-code), signed by the CA key.',
  },
  VerificationSignatureError: {
    kind: 'business',
    remedy:
      'Sign the verification certificate with the private key of this CA (openssl x509 -req -CA ca.pem -CAkey ca.key ...).',
  },
  VerificationCertificateExpiredError: {
    kind: 'business',
    remedy: 'The verification certificate has expired; issue a new one.',
  },
  VerificationCertificateNotYetValidError: {
    kind: 'business',
    remedy: 'The verification certificate is not valid yet; check its notBefore date and the issuing clock.',
  },
  // Signer CAs: the verification certificate signed by a key in AWS KMS or AWS Private CA
  SignerKeyMismatchError: {
    kind: 'business',
    remedy:
      "The signer does not hold this CA's key: name the KMS key whose public key is in the CA certificate (aws kms get-public-key) or the Private CA whose certificate this is, in metadata signer or the deployment's defaultSigner.",
  },
  SignerNotFoundError: {
    kind: 'business',
    remedy:
      "Name a KMS key or Private CA that exists in the pipeline's account and Region (a key ARN or alias ARN for another account), then upload the CA again.",
  },
  SignerAccessDeniedError: {
    kind: 'business',
    remedy:
      "Let the VerifyOwnership role use the signer: add the key's ARN to the deployment param signerKmsKeyArn (kms:GetPublicKey, kms:Sign) or the CA's to signerPcaAuthorityArn (acm-pca:GetCertificateAuthorityCertificate, IssueCertificate, GetCertificate), allow the role in the key policy, and upload the CA again.",
  },
  UnsupportedSignerKeyError: {
    kind: 'business',
    remedy:
      'Use an asymmetric SIGN_VERIFY KMS key of spec RSA_2048/3072/4096 or ECC_NIST_P256/P384 (or a Private CA with an RSA or ECDSA key) that offers the algorithm the message names.',
  },
  SignerDisabledError: {
    kind: 'business',
    remedy:
      'Enable the KMS key (aws kms enable-key; cancel a pending deletion first) or make the Private CA ACTIVE, then upload the CA again.',
  },
  // IoT state
  TemplateNotFoundError: {
    kind: 'business',
    remedy: 'Create the provisioning template (type JITP) or name an existing one in template-name.',
  },
  TemplateNotJitpError: {
    kind: 'business',
    remedy: 'Name a provisioning template of type JITP; a FLEET_PROVISIONING template cannot be attached to a CA.',
  },
  InvalidTemplateError: {
    kind: 'business',
    remedy:
      "Fix the provisioning template's body as the message says (iot-ca check-template <name> --device <device.pem> shows each problem and what a device would get), save it as the template's default version (aws iot create-provisioning-template-version --set-as-default), then upload the CA again.",
  },
  CertificateModeConflictError: {
    kind: 'business',
    remedy:
      'The CA is already registered in the other certificate mode and a mode cannot change: deactivate and delete it in AWS IoT, then upload again.',
  },
  CaLimitExceededError: {
    kind: 'business',
    remedy: 'AWS IoT allows 10 CAs with the same subject per account and Region; delete unused ones first.',
  },
  CertificateRejectedError: {
    kind: 'business',
    remedy: 'AWS IoT rejected the certificate; the message gives its reason.',
  },
  AccessDeniedError: {
    kind: 'business',
    remedy: "Grant the function's role the action named in the message.",
  },
  EventPublishError: {
    kind: 'business',
    remedy:
      'EventBridge refused the event (the message names the code): check that the default bus exists and that no resource policy or quota blocks events:PutEvents from this role, then run the step again.',
  },
  MalformedPendingNoticeError: {
    kind: 'business',
    remedy:
      'A pending announcement under results/notices/pending/ is not one register-ca wrote (edited, or written by hand), so reconciliation leaves it in place and publishes nothing from it: fix it as the message says or delete it. The CA and its receipt are not affected.',
  },
  // retire-ca (docs/adr/0025)
  InvalidRetirePolicyError: {
    kind: 'business',
    remedy:
      'Fix the retire setting the message names: policy deactivate or delete-after, delete-after days a number from 0 to 360, with graceSeconds, days × retireSecondsPerDay + graceSeconds at most 360 days of seconds (a Standard execution lasts at most a year), revoke-devices true or false (the CA tags iot-ca:retire-policy, iot-ca:retire-delete-after-days, iot-ca:retire-revoke-devices, the execution input, or the deployment params retirePolicy, retireDeleteAfterDays, retireRevokeDevices); then start retire-ca again.',
  },
  CaBucketUnknownError: {
    kind: 'business',
    remedy:
      "The CA carries no iot-ca:source-bucket tag (it was registered outside the pipeline) and the function has no CA_BUCKET: deploy with the stack's CA bucket in CA_BUCKET, or retire the CA by hand (aws iot update-ca-certificate --new-status INACTIVE --new-auto-registration-status DISABLE).",
  },
  // Transient: retried by the state machine with backoff and jitter, never caught as a result
  ThrottledError: {
    kind: 'transient',
    remedy:
      'Nothing to do: the next reconciliation runs the flow again. If it keeps happening, raise the AWS IoT quota or drop fewer CAs at once.',
  },
  ServiceFaultError: {
    kind: 'transient',
    remedy:
      'Nothing to do: the next reconciliation runs the flow again. If it keeps happening, check the AWS Health Dashboard.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type PipelineErrorName = keyof typeof ERROR_SPECS;

export const BUSINESS_ERRORS = (Object.keys(ERROR_SPECS) as PipelineErrorName[]).filter(
  (name) => ERROR_SPECS[name].kind === 'business',
);
export const TRANSIENT_ERRORS = (Object.keys(ERROR_SPECS) as PipelineErrorName[]).filter(
  (name) => ERROR_SPECS[name].kind === 'transient',
);

/** Every error the pipeline raises on purpose. `name` is what Step Functions sees. */
export class PipelineError extends Error {
  override readonly name: PipelineErrorName;

  constructor(name: PipelineErrorName, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = name;
  }

  get kind(): ErrorKind {
    return ERROR_SPECS[this.name].kind;
  }
}

/**
 * Lambda's own failures worth retrying (AWS's recommended Retry list for Lambda Tasks): the ASL
 * retries these, and a flow that still ends on one was not failed by the file.
 */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
] as const;

/**
 * What the AWS SDK integrations (Activate, RecordResult's receipt: docs/adr/0026) fail with that
 * says nothing about the file, named as Step Functions names them (`<Service>.<Code>Exception`):
 * throttling, 5xx and a call that got no answer. The ASL retries these as it retries
 * ThrottledError and ServiceFaultError.
 */
export const INTEGRATION_THROTTLING_ERRORS = [
  'Iot.ThrottlingException',
  'S3.SlowDownException',
  'EventBridge.ThrottlingException',
] as const;
/**
 * `EventBridge.FailedEntry` is the optimized events:putEvents integration's failure when an entry is
 * refused (throttled or internal, for the pipeline's well-formed entries): retried with the faults.
 */
export const INTEGRATION_FAULT_ERRORS = [
  'Iot.ServiceUnavailableException',
  'Iot.InternalFailureException',
  'Iot.SdkClientException',
  'S3.InternalErrorException',
  'S3.ServiceUnavailableException',
  'S3.SdkClientException',
  'EventBridge.FailedEntry',
  'EventBridge.InternalException',
  'EventBridge.AmazonEventBridgeException',
  'EventBridge.SdkClientException',
] as const;

/**
 * What a flow can end on, once the state machine's retries are spent, that says nothing about the
 * file: the pipeline's transient errors, Lambda's service errors and timeouts. A failure report
 * naming one of these is marked `transient` and the next reconciliation runs the flow again;
 * any other failure is final until the object changes.
 */
export const TRANSIENT_FLOW_ERRORS: readonly string[] = [
  ...TRANSIENT_ERRORS,
  ...LAMBDA_SERVICE_ERRORS,
  ...INTEGRATION_THROTTLING_ERRORS,
  ...INTEGRATION_FAULT_ERRORS,
  'States.Timeout',
  'Sandbox.Timedout',
];

export const isTransientFailure = (name: string): boolean => TRANSIENT_FLOW_ERRORS.includes(name);

const TRANSIENT_REMEDY =
  'Nothing to do: the next reconciliation runs the flow again. If it keeps failing, check the AWS Health Dashboard and the function logs.';

export const isPipelineError = (error: unknown, name?: PipelineErrorName): error is PipelineError =>
  error instanceof PipelineError && (name === undefined || error.name === name);

export const remedyFor = (name: string): string => {
  if (isTransientFailure(name)) return TRANSIENT_REMEDY;
  // An integration refused by IAM: the state machine's role, not a function's, lacks the action.
  if (/^[A-Za-z0-9]+\.AccessDenied(Exception)?$/.test(name))
    return "Grant the state machine's role (StateMachineRole) the action named in the message.";
  return name in ERROR_SPECS
    ? ERROR_SPECS[name as PipelineErrorName].remedy
    : 'Unexpected error: see the execution history and the function logs.';
};
