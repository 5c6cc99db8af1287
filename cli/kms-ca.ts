/**
 * A CA whose key is an AWS KMS asymmetric key: CreateKey (SIGN_VERIFY), CreateAlias, GetPublicKey,
 * then a self-signed CA certificate built by the pipeline's builder (functions/core/x509-build.ts)
 * and signed by KMS `Sign` over the TBS certificate's digest. The key never leaves KMS: this
 * process holds only the public key and the signature.
 */
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { CreateAliasCommand, CreateKeyCommand, GetPublicKeyCommand, SignCommand } from '@aws-sdk/client-kms';
import { buildCertificate, hashOf, type KmsSigningAlgorithm } from '../functions/core/x509-build.ts';
import { type DnPart, formatSubject } from './dn.ts';
import { CliError } from './output.ts';
import { serviceError, type SignerServices } from './signer-services.ts';

/**
 * The key specs `ca create` makes, first the default, each with the algorithm it signs with:
 * what AWS IoT accepts for a CA (RSA ≥ 2048, P-256, P-384; P-521 is undocumented there).
 */
export const KMS_KEY_SPECS = {
  ECC_NIST_P256: 'ECDSA_SHA_256',
  ECC_NIST_P384: 'ECDSA_SHA_384',
  RSA_2048: 'RSASSA_PKCS1_V1_5_SHA_256',
  RSA_3072: 'RSASSA_PKCS1_V1_5_SHA_256',
} as const satisfies Record<string, KmsSigningAlgorithm>;
export type KmsKeySpec = keyof typeof KMS_KEY_SPECS;

/** X.509's name attribute types the builder takes, for the ones it names by OID. */
const BUILDER_TYPES: Partial<Record<DnPart['type'], string>> = { dnQualifier: '2.5.4.46' };

export interface KmsCaRequest {
  subject: DnPart[];
  keySpec: KmsKeySpec;
  days: number;
  alias: string;
  now: Date;
}

export interface MadeCa {
  pem: string;
  signer: string;
  /** Where the key is, for people. */
  holds: string;
  /** What exists in the account now, should anything after this fail. */
  made: string;
}

/** A minute back: a CA is valid at once even if the checking clock is slightly behind. */
const SKEW_MS = 60_000;
const DAY_MS = 86_400_000;

export const createKmsCa = async (
  services: SignerServices,
  request: KmsCaRequest,
  progress: (message: string) => void,
): Promise<MadeCa> => {
  const kms = services.kms();
  const fail = (operation: string, made?: string) => (error: unknown) => {
    throw serviceError(error, 'kms', operation, services.where, made);
  };
  const { alias, keySpec } = request;

  // An alias that already names a key is refused before a key exists (nothing to clean up).
  const taken = await kms.send(new GetPublicKeyCommand({ KeyId: alias })).then(
    () => true,
    (error: { name?: string }) => {
      if (error?.name === 'NotFoundException') return false;
      return fail('GetPublicKey')(error);
    },
  );
  if (taken) {
    throw new CliError(
      'AliasExistsError',
      `${alias} already names a KMS key; nothing was created. Name the new CA's key with --alias, or give another --subject.`,
    );
  }

  progress(`creating a KMS key (${keySpec}, SIGN_VERIFY)`);
  const created = await kms
    .send(
      new CreateKeyCommand({
        KeyUsage: 'SIGN_VERIFY',
        KeySpec: keySpec,
        Description: `iot-ca CA key: ${formatSubject(request.subject)}`,
      }),
    )
    .catch(fail('CreateKey'));
  const keyArn = created.KeyMetadata?.Arn ?? created.KeyMetadata?.KeyId;
  if (!keyArn) throw new CliError('UnexpectedResponseError', 'KMS CreateKey returned no key id.');
  const made = `The key ${keyArn} was created: give it an alias and use it, or schedule its deletion (aws kms schedule-key-deletion --key-id ${keyArn}).`;

  await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyArn })).catch((error) => {
    if ((error as { name?: string }).name === 'AlreadyExistsException') {
      throw new CliError('AliasExistsError', `${alias} was taken meanwhile. ${made}`);
    }
    return fail('CreateAlias', made)(error);
  });
  progress(`alias ${alias} -> ${keyArn}`);

  const publicKey = await kms.send(new GetPublicKeyCommand({ KeyId: alias })).catch(fail('GetPublicKey', made));
  const signingAlgorithm = KMS_KEY_SPECS[keySpec];
  if (!publicKey.PublicKey || publicKey.KeySpec !== keySpec || publicKey.KeyUsage !== 'SIGN_VERIFY') {
    throw new CliError(
      'UnexpectedResponseError',
      `KMS GetPublicKey answered a ${publicKey.KeySpec ?? 'key of no spec'} (${publicKey.KeyUsage ?? 'no usage'}) for ${alias}, not the ${keySpec} SIGN_VERIFY key just made. ${made}`,
    );
  }
  if (publicKey.SigningAlgorithms && !publicKey.SigningAlgorithms.includes(signingAlgorithm)) {
    throw new CliError(
      'UnsupportedAlgorithmError',
      `The key ${alias} cannot sign with ${signingAlgorithm} (it offers ${publicKey.SigningAlgorithms.join(', ')}). ${made}`,
    );
  }
  const spki = publicKey.PublicKey;

  progress(`signing the CA certificate through KMS Sign (${signingAlgorithm})`);
  const notBefore = new Date(request.now.getTime() - SKEW_MS);
  const built = await buildCertificate(
    {
      issuer: request.subject.map(({ type, value }) => ({ type: BUILDER_TYPES[type] ?? type, value })),
      subject: request.subject.map(({ type, value }) => ({ type: BUILDER_TYPES[type] ?? type, value })),
      notBefore,
      notAfter: new Date(request.now.getTime() + request.days * DAY_MS),
      publicKey: spki,
      extensions: {
        basicConstraints: { ca: true },
        keyUsage: ['keyCertSign', 'cRLSign'],
        subjectKeyIdentifier: 'hash',
      },
      signingAlgorithm,
    },
    async (tbs) => {
      const digest = createHash(hashOf(signingAlgorithm)).update(tbs).digest();
      const signed = await kms
        .send(
          new SignCommand({ KeyId: alias, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: signingAlgorithm }),
        )
        .catch(fail('Sign', made));
      if (!signed.Signature) throw new CliError('UnexpectedResponseError', `KMS Sign returned no signature. ${made}`);
      return signed.Signature;
    },
  );

  // The signature KMS made must verify with the public key KMS gave, or the CA is worthless.
  const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  if (!new X509Certificate(built.der).verify(key)) {
    throw new CliError(
      'SignatureMismatchError',
      `The certificate KMS signed does not verify with the key's public key (GetPublicKey); nothing was written. ${made}`,
    );
  }
  return { pem: built.pem, signer: `kms:${alias}`, holds: `key ${keyArn}, held by KMS`, made };
};
