/**
 * `device connect --signer`: the smoke-test device's certificate signed by a CA key this process
 * never holds. KMS: GetPublicKey must be the --ca's public key, then `Sign` over a TBSCertificate
 * built here (functions/core/x509-build.ts) with the algorithm the key spec takes, as the
 * pipeline's SignVerification does. Private CA: its CA certificate must be the --ca, then
 * IssueCertificate from the device's CSR with the EndEntityCertificate/V1 template, waited for.
 * Both checks run before anything is signed (SignerKeyMismatchError); the device's own key pair is
 * made here as for `--ca-key`, and only its certificate comes back from the service.
 */
import { createHash, KeyObject, webcrypto, X509Certificate } from 'node:crypto';
import { issueWithPca, kmsCaKey, pcaCaAlgorithm } from '../functions/aws/signer.ts';
import { isPipelineError } from '../functions/core/errors.ts';
import { parsePemBlocks } from '../functions/core/pem.ts';
import type { SignerSpec } from '../functions/core/signer.ts';
import {
  buildCertificate,
  buildCsr,
  nodeSigner,
  subjectKeyIdentifierOf,
  subjectNameOf,
} from '../functions/core/x509-build.ts';
import { type Device, DEVICE_VALIDITY_DAYS, deviceOf, deviceValidity, newDeviceKeys } from './device.ts';
import { CliError } from './output.ts';
import type { SignerServices } from './signer-services.ts';

/** id-kp-clientAuth: what makeDevice's certificates carry, and what a device presents to AWS IoT. */
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
/** How long Private CA may take to issue before the command gives up (AWS answers in seconds). */
const PCA_WAIT_SECONDS = 120;

/** What to do, for an operator at a terminal (the pipeline's remedies speak of metadata and uploads). */
const REMEDIES: Record<string, string> = {
  SignerKeyMismatchError:
    'Give --signer the signer `ca create` printed for this CA (the KMS key whose public key is in the --ca certificate, or the Private CA whose certificate it is). Nothing was signed or connected.',
  SignerNotFoundError:
    'Name a KMS key or Private CA that exists in this account and Region (--region); on the embedded stack, keys live only as long as the `iot-ca up` that made them.',
  SignerAccessDeniedError:
    'The credentials need kms:GetPublicKey and kms:Sign on the key, or acm-pca:GetCertificateAuthorityCertificate, acm-pca:IssueCertificate and acm-pca:GetCertificate on the Private CA.',
  SignerDisabledError: 'Enable the KMS key (aws kms enable-key) or make the Private CA ACTIVE, then run again.',
  ServiceFaultError: 'Run the command again; the service did not answer in time.',
  UnsupportedSignerKeyError:
    'Use an asymmetric SIGN_VERIFY KMS key of spec RSA_2048/3072/4096 or ECC_NIST_P256/P384, or a Private CA with an RSA or ECDSA key.',
};

/** A pipeline error from the signer calls, as a CLI error of the same name with its remedy. */
const named = (error: unknown): unknown => {
  if (!isPipelineError(error)) return error;
  const remedy = REMEDIES[error.name];
  return new CliError(error.name, remedy ? `${error.message} ${remedy}` : error.message);
};

const caDerOf = (caPem: string): Uint8Array => {
  const block = parsePemBlocks(caPem).find((candidate) => candidate.label === 'CERTIFICATE');
  if (!block) throw new CliError('NotACertificateError', 'The --ca file holds no PEM certificate.');
  return block.der;
};

const spkiOf = async (keys: CryptoKeyPair): Promise<Uint8Array> =>
  new Uint8Array(await webcrypto.subtle.exportKey('spki', keys.publicKey));

/** The certificate came back from the service: it must be the device's, issued by the --ca's key. */
const checkIssued = (certificatePem: string, caDer: Uint8Array, spki: Uint8Array, thingName: string): void => {
  const certificate = new X509Certificate(certificatePem);
  const ca = new X509Certificate(caDer);
  const ok =
    certificate.verify(ca.publicKey) &&
    Buffer.from(certificate.publicKey.export({ type: 'spki', format: 'der' })).equals(Buffer.from(spki)) &&
    certificate.subject.split('\n').includes(`CN=${thingName}`);
  if (!ok)
    throw new CliError(
      'SignatureMismatchError',
      `The device certificate the signer returned is not CN=${thingName} for the device's key signed by the --ca certificate's key; nothing was connected.`,
    );
};

/**
 * A new device (EC P-256 key, `CN=<thingName>`) whose certificate the signer makes. KMS: the
 * extensions makeDevice gives (basicConstraints CA:FALSE and keyUsage digitalSignature, both
 * critical; extendedKeyUsage clientAuth) plus the CA's key identifier as authority key
 * identifier. Private CA: the extensions its EndEntityCertificate/V1 template sets (clientAuth
 * among them).
 */
export const makeSignerDevice = async (
  services: SignerServices,
  signer: SignerSpec,
  caPem: string,
  thingName: string,
  progress: (message: string) => void,
): Promise<Device> => {
  const caDer = caDerOf(caPem);
  try {
    if (signer.kind === 'kms') {
      const kms = services.kms();
      // GetPublicKey must be the --ca's key before anything is signed.
      const key = await kmsCaKey(kms, signer, caDer);
      progress(
        `${signer.value} holds the --ca key; signing the device certificate through KMS Sign (${key.algorithm})`,
      );
      const keys = await newDeviceKeys();
      const spki = await spkiOf(keys);
      const authorityKeyIdentifier = subjectKeyIdentifierOf(caDer);
      const built = await buildCertificate(
        {
          issuer: subjectNameOf(caDer),
          subject: [{ type: 'CN', value: thingName }],
          ...deviceValidity(),
          publicKey: spki,
          extensions: {
            basicConstraints: { ca: false },
            keyUsage: ['digitalSignature'],
            extendedKeyUsage: [CLIENT_AUTH],
            ...(authorityKeyIdentifier ? { authorityKeyIdentifier } : {}),
          },
          signingAlgorithm: key.algorithm,
        },
        key.sign,
      );
      checkIssued(built.pem, caDer, spki, thingName);
      return deviceOf(thingName, keys, built.pem, caPem);
    }
    const pca = services.pca();
    // The Private CA's own certificate must be the --ca before anything is issued.
    const signingAlgorithm = await pcaCaAlgorithm(pca, signer, caDer);
    progress(
      `${signer.value} is the --ca; issuing the device certificate (EndEntityCertificate/V1, ${signingAlgorithm})`,
    );
    const keys = await newDeviceKeys();
    const spki = await spkiOf(keys);
    const csr = await buildCsr(
      { subject: [{ type: 'CN', value: thingName }], publicKey: spki, signingAlgorithm: 'ECDSA_SHA_256' },
      nodeSigner(KeyObject.from(keys.privateKey), 'ECDSA_SHA_256'),
    );
    const certificatePem = await issueWithPca(pca, signer, {
      csrPem: csr.pem,
      signingAlgorithm,
      validityDays: DEVICE_VALIDITY_DAYS,
      // One issue per device key: a retried call collects the same certificate.
      idempotencyToken: createHash('sha256').update(csr.der).digest('hex').slice(0, 36),
      waitSeconds: PCA_WAIT_SECONDS,
    });
    checkIssued(certificatePem, caDer, spki, thingName);
    return deviceOf(thingName, keys, certificatePem, caPem);
  } catch (error) {
    throw named(error);
  }
};
