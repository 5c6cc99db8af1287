/**
 * The `signer` option (object metadata `signer`, deployment default `defaultSigner`): who signs the
 * verification certificate when the operator supplies none. Pure: parsing, the choice of signing
 * algorithm and the verification certificate's fields; the KMS and Private CA calls live in
 * ../aws/signer.ts.
 *
 * Values: `kms:<key id | alias/name | key ARN | alias ARN>` or `pca:<certificate-authority ARN>`.
 * A signer proves possession of the CA key, which only DEFAULT mode asks for: a signer in the
 * object's metadata with SNI_ONLY is an InvalidOptionsError (the two options contradict each
 * other); the deployment default is ignored for SNI_ONLY CAs (ADR 0024).
 */
import { PipelineError } from './errors.ts';
import type { KmsSigningAlgorithm } from './x509-build.ts';

export type SignerSpec =
  | { kind: 'kms' /** As KMS's KeyId parameter takes it. */; keyId: string; value: string }
  | { kind: 'pca'; authorityArn: string; value: string };

const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
const KEY_ID = `(?:${UUID}|mrk-[0-9a-fA-F]{32})`;
const ALIAS_NAME = 'alias/[a-zA-Z0-9/_-]{1,250}';
const ARN_PREFIX = 'arn:aws[a-z-]*:';
const REGION = '[a-z]{2}(?:-[a-z]+)+-\\d';
const ACCOUNT = '\\d{12}';
const KMS_KEY = new RegExp(
  `^(?:${KEY_ID}|${ALIAS_NAME}|${ARN_PREFIX}kms:${REGION}:${ACCOUNT}:(?:key/${KEY_ID}|${ALIAS_NAME}))$`,
);
const PCA_ARN = new RegExp(`^${ARN_PREFIX}acm-pca:${REGION}:${ACCOUNT}:certificate-authority/${UUID}$`);

const SIGNER_FORMS =
  'kms:<key id | alias/<name> | key ARN | alias ARN> or pca:<arn:aws:acm-pca:<region>:<account>:certificate-authority/<id>>';

/**
 * Parses a signer value; `source` names where it came from in the error (`metadata "signer"`).
 * Throws InvalidOptionsError with the accepted forms.
 */
export const parseSigner = (value: string, source: string): SignerSpec => {
  const trimmed = value.trim();
  const colon = trimmed.indexOf(':');
  const kind = colon < 0 ? '' : trimmed.slice(0, colon).toLowerCase();
  const target = trimmed.slice(colon + 1);
  if (kind === 'kms') {
    if (/^alias\/aws\//i.test(target) || /:alias\/aws\//i.test(target)) {
      throw new PipelineError(
        'InvalidOptionsError',
        `${source} "${trimmed}" names an AWS managed key; those are symmetric and cannot sign. Name the asymmetric SIGN_VERIFY key that holds the CA key.`,
      );
    }
    if (KMS_KEY.test(target)) return { kind: 'kms', keyId: target, value: `kms:${target}` };
  }
  if (kind === 'pca' && PCA_ARN.test(target)) return { kind: 'pca', authorityArn: target, value: `pca:${target}` };
  throw new PipelineError('InvalidOptionsError', `${source} is "${trimmed}"; expected ${SIGNER_FORMS}.`);
};

/** The signer to use for a CA, or undefined: metadata over the deployment default, as ADR 0024 decides. */
export const resolveSigner = (
  metadata: string | undefined,
  deploymentDefault: SignerSpec | undefined,
  certificateMode: 'DEFAULT' | 'SNI_ONLY',
): SignerSpec | undefined => {
  if (metadata !== undefined && metadata.trim() !== '') {
    const signer = parseSigner(metadata, 'metadata "signer"');
    if (certificateMode === 'SNI_ONLY') {
      throw new PipelineError(
        'InvalidOptionsError',
        'metadata "signer" proves possession of the CA key, which SNI_ONLY mode does not check: remove the signer or use certificate-mode DEFAULT.',
      );
    }
    return signer;
  }
  return certificateMode === 'DEFAULT' ? deploymentDefault : undefined;
};

// ---- KMS: which algorithm the key signs with ----

/** The KMS key specs that can hold a CA key AWS IoT accepts. */
const KMS_KEY_SPECS: Record<string, 'rsa' | 'ec'> = {
  RSA_2048: 'rsa',
  RSA_3072: 'rsa',
  RSA_4096: 'rsa',
  ECC_NIST_P256: 'ec',
  ECC_NIST_P384: 'ec',
  ECC_NIST_P521: 'ec',
};
const EC_DEFAULT: Record<string, KmsSigningAlgorithm> = {
  ECC_NIST_P256: 'ECDSA_SHA_256',
  ECC_NIST_P384: 'ECDSA_SHA_384',
  ECC_NIST_P521: 'ECDSA_SHA_512',
};

const SHA_BY_SIGNATURE_OID: Record<string, 'SHA_256' | 'SHA_384' | 'SHA_512'> = {
  '1.2.840.113549.1.1.11': 'SHA_256',
  '1.2.840.113549.1.1.12': 'SHA_384',
  '1.2.840.113549.1.1.13': 'SHA_512',
  '2.16.840.1.101.3.4.2.1': 'SHA_256',
  '2.16.840.1.101.3.4.2.2': 'SHA_384',
  '2.16.840.1.101.3.4.2.3': 'SHA_512',
};
const RSASSA_PSS = '1.2.840.113549.1.1.10';

/**
 * The signing algorithm for a KMS key: ECDSA with the curve's hash; for RSA, the CA's own family
 * (PSS when the CA is signed with PSS, PKCS#1 v1.5 otherwise) and its own hash when it is SHA-2.
 * It must be one the key lists; anything else is UnsupportedSignerKeyError.
 */
export const chooseKmsAlgorithm = (
  key: { keySpec: string | undefined; keyUsage: string | undefined; signingAlgorithms: readonly string[] },
  ca: { signatureOid: string; pssHashOid?: string | undefined },
): KmsSigningAlgorithm => {
  const family = KMS_KEY_SPECS[key.keySpec ?? ''];
  if (!family) {
    throw new PipelineError(
      'UnsupportedSignerKeyError',
      `The KMS key's spec is ${key.keySpec ?? 'unknown'}; a CA key for AWS IoT is RSA_2048/3072/4096 or ECC_NIST_P256/P384 (P521 untested by AWS IoT).`,
    );
  }
  if (key.keyUsage !== 'SIGN_VERIFY') {
    throw new PipelineError(
      'UnsupportedSignerKeyError',
      `The KMS key's usage is ${key.keyUsage ?? 'unknown'}; signing needs a key created with KeyUsage SIGN_VERIFY.`,
    );
  }
  let algorithm: KmsSigningAlgorithm;
  if (family === 'ec') algorithm = EC_DEFAULT[key.keySpec as string] as KmsSigningAlgorithm;
  else {
    const pss = ca.signatureOid === RSASSA_PSS;
    const hash = SHA_BY_SIGNATURE_OID[pss ? (ca.pssHashOid ?? '') : ca.signatureOid] ?? 'SHA_256';
    algorithm = `${pss ? 'RSASSA_PSS' : 'RSASSA_PKCS1_V1_5'}_${hash}` as KmsSigningAlgorithm;
  }
  if (!key.signingAlgorithms.includes(algorithm)) {
    throw new PipelineError(
      'UnsupportedSignerKeyError',
      `The KMS key does not offer ${algorithm} (it lists ${key.signingAlgorithms.join(', ') || 'none'}).`,
    );
  }
  return algorithm;
};

/** KMS Sign takes the message itself up to this size; larger, its digest (MessageType DIGEST). */
export const KMS_MAX_RAW_MESSAGE = 4096;

// ---- Private CA: which algorithm the CA signs with ----

export type PcaSigningAlgorithm =
  | 'SHA256WITHRSA'
  | 'SHA384WITHRSA'
  | 'SHA512WITHRSA'
  | 'SHA256WITHECDSA'
  | 'SHA384WITHECDSA'
  | 'SHA512WITHECDSA';

/** Private CA's SigningAlgorithm for a CA key: the curve's hash for EC, SHA-256 for RSA. */
export const choosePcaAlgorithm = (key: {
  type: string | undefined;
  namedCurve?: string | undefined;
}): PcaSigningAlgorithm => {
  if (key.type === 'ec') {
    if (key.namedCurve === 'secp384r1') return 'SHA384WITHECDSA';
    if (key.namedCurve === 'secp521r1') return 'SHA512WITHECDSA';
    return 'SHA256WITHECDSA';
  }
  if (key.type === 'rsa') return 'SHA256WITHRSA';
  throw new PipelineError(
    'UnsupportedSignerKeyError',
    `The Private CA's key is ${key.type ?? 'unknown'}; AWS IoT accepts RSA and ECDSA CA keys.`,
  );
};

/** The end-entity template: a certificate Private CA issues from a CSR as it stands. */
export const PCA_END_ENTITY_TEMPLATE = 'arn:aws:acm-pca:::template/EndEntityCertificate/V1';

// ---- The verification certificate ----

/** Backdated for clock skew between the signer, this function and AWS IoT. */
export const VERIFICATION_BACKDATE_MS = 5 * 60_000;
/**
 * Long enough to outlive the state machine's retries between signing and RegisterCa (throttling
 * alone may wait many minutes), short enough to be useless later; its key is discarded anyway.
 */
export const VERIFICATION_VALIDITY_MS = 24 * 3_600_000;

export const verificationValidity = (now: Date): { notBefore: Date; notAfter: Date } => ({
  notBefore: new Date(now.getTime() - VERIFICATION_BACKDATE_MS),
  notAfter: new Date(now.getTime() + VERIFICATION_VALIDITY_MS),
});

/** How a CA's ownership was proven, as the receipt records it. */
export type OwnershipMethod = 'verification-certificate' | 'kms' | 'pca' | 'none';
