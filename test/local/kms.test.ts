/**
 * The embedded stack's KMS on AWS's wire, through @aws-sdk/client-kms: every signature it makes is
 * checked with node:crypto against the public key GetPublicKey returns; every named error is
 * provoked; its error table and statuses are read back from the SDK's model; IAM denies what the
 * caller's role does not allow; and no key material reaches the state directory.
 */
import { constants, createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  GetPublicKeyCommand,
  KeySpec as SdkKeySpec,
  KMSClient,
  ListAliasesCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  SigningAlgorithmSpec,
  VerifyCommand,
} from '@aws-sdk/client-kms';
import { beforeAll, describe, expect, it } from 'vitest';
import { FRONT_END_ERRORS } from '../../local/json11.ts';
import { ERROR_STATUS } from '../../local/kms/errors.ts';
import { KEY_SPECS, SIGNING_ALGORITHMS } from '../../local/kms/keys.ts';
import { OPERATION_ERRORS } from '../../local/kms/operations.ts';
import { sdkModelErrors, sdkPackageDir } from '../fixtures/sdk-model.ts';
import { useLocalStack } from '../fixtures/stack.ts';

const SDK = sdkPackageDir('@aws-sdk/client-kms');
const modelErrors = sdkModelErrors('@aws-sdk/client-kms', 'KMSServiceException');

/** Each error's HTTP status as the SDK's schema carries it (`[_hE]: 404`). */
const modelStatus = (): Record<string, number> => {
  const schema = readFileSync(join(SDK, 'dist-es', 'schemas', 'schemas_0.js'), 'utf8');
  const names = Object.fromEntries([...schema.matchAll(/^const (_\w+) = "(\w+)";$/gm)].map((m) => [m[1], m[2]]));
  return Object.fromEntries(
    [...schema.matchAll(/export var \w+\$ = \[-3, n0, (_\w+),\s*\{[^}]*\[_hE\]: (\d+) \}/g)].map((m) => [
      names[m[1] as string],
      Number(m[2]),
    ]),
  );
};

const spki = (der: Uint8Array): KeyObject => createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });

const HASH: Record<string, string> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };
const hashOf = (algorithm: string) => HASH[algorithm.slice(-3)] as string;

/** node:crypto's own verification of a KMS signature over `message` (RAW, or hashed for DIGEST). */
const verifiedByNode = (publicKey: KeyObject, algorithm: string, message: Buffer, signature: Uint8Array): boolean => {
  const hash = hashOf(algorithm);
  if (algorithm.startsWith('ECDSA')) return verify(hash, message, { key: publicKey, dsaEncoding: 'der' }, signature);
  if (algorithm.startsWith('RSASSA_PKCS1'))
    return verify(hash, message, { key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
  return verify(
    hash,
    message,
    // Salt as long as the hash, as KMS signs: a fixed length, so another salt length would fail.
    { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(algorithm.slice(-3)) / 8 },
    signature,
  );
};

/** The error a call fails with (name, HTTP status, message), or a failure if it succeeds. */
const failure = async (promise: Promise<unknown>): Promise<{ name: string; status: number; message: string }> => {
  try {
    await promise;
  } catch (error) {
    const e = error as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode ?? 0, message: e.message };
  }
  throw new Error('expected the call to fail');
};

const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));

describe("the KMS emulator's error model", () => {
  it('lists for each operation only errors AWS’s model gives it', () => {
    const unlisted = Object.entries(OPERATION_ERRORS).flatMap(([operation, errors]) =>
      (errors as readonly string[])
        .filter((name) => !modelErrors(operation).includes(name))
        .map((name) => `${operation}: ${name}`),
    );
    expect(unlisted).toEqual([]);
    expect(modelErrors('Sign')).toContain('InvalidKeyUsageException');
    expect(modelErrors('Sign')).not.toContain('UnsupportedOperationException');
  });

  it('answers each error with the status the model gives it; front-end errors are in no model', () => {
    const status = modelStatus();
    expect(Object.keys(status).length).toBeGreaterThan(30);
    for (const [name, code] of Object.entries(ERROR_STATUS)) expect(code, name).toBe(status[name]);
    for (const operation of Object.keys(OPERATION_ERRORS))
      for (const name of FRONT_END_ERRORS) expect(modelErrors(operation), operation).not.toContain(name);
  });

  it('knows every KeySpec and SigningAlgorithm the API takes', () => {
    expect([...KEY_SPECS].sort()).toEqual(Object.values(SdkKeySpec).sort());
    expect([...SIGNING_ALGORITHMS].sort()).toEqual(Object.values(SigningAlgorithmSpec).sort());
  });
});

describe('KMS in the embedded stack', () => {
  const fixture = useLocalStack();
  let kms: KMSClient;
  beforeAll(() => {
    kms = new KMSClient({});
  });

  const createKey = async (spec: string, usage = 'SIGN_VERIFY') =>
    (await kms.send(new CreateKeyCommand({ KeySpec: spec as never, KeyUsage: usage as never }))).KeyMetadata!;

  it('is reached through AWS_ENDPOINT_URL_KMS, which stack.json advertises', () => {
    expect(process.env.AWS_ENDPOINT_URL_KMS).toBe(fixture.stack.endpoints.kms);
    expect(fixture.stack.info().endpoints.kms).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  const SIGNING: Array<[string, string[]]> = [
    ['ECC_NIST_P256', ['ECDSA_SHA_256']],
    ['ECC_NIST_P384', ['ECDSA_SHA_384']],
    ['ECC_NIST_P521', ['ECDSA_SHA_512']],
    ['ECC_SECG_P256K1', ['ECDSA_SHA_256']],
    [
      'RSA_2048',
      [
        'RSASSA_PKCS1_V1_5_SHA_256',
        'RSASSA_PKCS1_V1_5_SHA_384',
        'RSASSA_PKCS1_V1_5_SHA_512',
        'RSASSA_PSS_SHA_256',
        'RSASSA_PSS_SHA_384',
        'RSASSA_PSS_SHA_512',
      ],
    ],
    ['RSA_3072', ['RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PSS_SHA_256']],
    ['RSA_4096', ['RSASSA_PKCS1_V1_5_SHA_512', 'RSASSA_PSS_SHA_512']],
  ];

  it.each(SIGNING)('%s: signs RAW and DIGEST messages that node:crypto verifies', async (spec, algorithms) => {
    const key = await createKey(spec);
    expect(key).toMatchObject({ KeySpec: spec, KeyUsage: 'SIGN_VERIFY', KeyState: 'Enabled', Enabled: true });
    const publicKey = await kms.send(new GetPublicKeyCommand({ KeyId: key.KeyId }));
    expect(publicKey).toMatchObject({ KeyId: key.Arn, KeySpec: spec, KeyUsage: 'SIGN_VERIFY' });
    const pub = spki(publicKey.PublicKey!);
    expect(pub.asymmetricKeyType).toBe(spec.startsWith('RSA') ? 'rsa' : 'ec');
    if (spec.startsWith('RSA')) expect(pub.asymmetricKeyDetails?.modulusLength).toBe(Number(spec.slice(4)));
    // Every algorithm the spec takes is listed, and any of them signs.
    expect(publicKey.SigningAlgorithms).toEqual(expect.arrayContaining(algorithms));
    const message = Buffer.from(`a TBS certificate stands in here: ${spec}`);
    for (const algorithm of algorithms) {
      const raw = await kms.send(
        new SignCommand({ KeyId: key.KeyId, Message: message, SigningAlgorithm: algorithm as never }),
      );
      expect(raw.SigningAlgorithm).toBe(algorithm);
      expect(verifiedByNode(pub, algorithm, message, raw.Signature!), `${algorithm} RAW`).toBe(true);
      expect(verifiedByNode(pub, algorithm, Buffer.from('another message'), raw.Signature!)).toBe(false);
      const digest = createHash(hashOf(algorithm)).update(message).digest();
      const hashed = await kms.send(
        new SignCommand({
          KeyId: key.Arn,
          Message: digest,
          MessageType: 'DIGEST',
          SigningAlgorithm: algorithm as never,
        }),
      );
      expect(verifiedByNode(pub, algorithm, message, hashed.Signature!), `${algorithm} DIGEST`).toBe(true);
      // And KMS's own Verify agrees, in both message types.
      const checked = await kms.send(
        new VerifyCommand({
          KeyId: key.KeyId,
          Message: digest,
          MessageType: 'DIGEST',
          Signature: raw.Signature!,
          SigningAlgorithm: algorithm as never,
        }),
      );
      expect(checked.SignatureValid).toBe(true);
    }
  });

  it('returns ECDSA signatures DER-encoded, as KMS does (not r‖s)', async () => {
    const key = await createKey('ECC_NIST_P256');
    const { Signature } = await kms.send(
      new SignCommand({ KeyId: key.KeyId, Message: Buffer.from('x'), SigningAlgorithm: 'ECDSA_SHA_256' }),
    );
    const signature = Buffer.from(Signature!);
    expect(signature[0]).toBe(0x30);
    expect(signature[1]).toBe(signature.length - 2);
    expect(signature.length).not.toBe(64);
  });

  it('takes a key id, key ARN, alias name and alias ARN for the same key', async () => {
    const key = await createKey('ECC_NIST_P256');
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/forms', TargetKeyId: key.KeyId }));
    const pub = spki((await kms.send(new GetPublicKeyCommand({ KeyId: 'alias/forms' }))).PublicKey!);
    const aliasArn = `arn:aws:kms:us-east-1:000000000000:alias/forms`;
    for (const keyId of [key.KeyId!, key.Arn!, 'alias/forms', aliasArn]) {
      const message = Buffer.from(keyId);
      const signed = await kms.send(
        new SignCommand({ KeyId: keyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }),
      );
      expect(signed.KeyId).toBe(key.Arn);
      expect(verifiedByNode(pub, 'ECDSA_SHA_256', message, signed.Signature!), keyId).toBe(true);
      expect((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyId).toBe(key.KeyId);
    }
    const { Aliases } = await kms.send(new ListAliasesCommand({ KeyId: key.KeyId }));
    expect(Aliases).toEqual([
      expect.objectContaining({ AliasName: 'alias/forms', AliasArn: aliasArn, TargetKeyId: key.KeyId }),
    ]);
  });

  it('answers each named error with its status', async () => {
    const key = await createKey('ECC_NIST_P256');
    const rsa = await createKey('RSA_2048');
    const symmetric = await createKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
    const sign = (KeyId: string, SigningAlgorithm: string, Message = Buffer.from('m'), MessageType = 'RAW') =>
      kms.send(
        new SignCommand({
          KeyId,
          Message,
          SigningAlgorithm: SigningAlgorithm as never,
          MessageType: MessageType as never,
        }),
      );
    const cases: Array<[string, () => Promise<unknown>, string, RegExp]> = [
      [
        'unknown key id',
        () => sign('1234abcd-12ab-34cd-56ef-1234567890ab', 'ECDSA_SHA_256'),
        'NotFoundException',
        /does not exist/,
      ],
      [
        'unknown alias',
        () => sign('alias/nobody', 'ECDSA_SHA_256'),
        'NotFoundException',
        /alias\/nobody' is not found/,
      ],
      [
        'a key ARN of another region',
        () => sign(key.Arn!.replace('us-east-1', 'eu-west-1'), 'ECDSA_SHA_256'),
        'NotFoundException',
        /does not exist/,
      ],
      [
        'RSA algorithm on an EC key',
        () => sign(key.KeyId!, 'RSASSA_PSS_SHA_256'),
        'InvalidKeyUsageException',
        /incompatible with key spec ECC_NIST_P256/,
      ],
      [
        'P-384 algorithm on a P-256 key',
        () => sign(key.KeyId!, 'ECDSA_SHA_384'),
        'InvalidKeyUsageException',
        /use ECDSA_SHA_256/,
      ],
      ['ECDSA on an RSA key', () => sign(rsa.KeyId!, 'ECDSA_SHA_256'), 'InvalidKeyUsageException', /RSA_2048/],
      [
        'an ENCRYPT_DECRYPT key',
        () => sign(symmetric.KeyId!, 'ECDSA_SHA_256'),
        'InvalidKeyUsageException',
        /key usage is ENCRYPT_DECRYPT/,
      ],
      ['an unknown algorithm', () => sign(key.KeyId!, 'ECDSA_SHA_1'), 'ValidationException', /enum value set/],
      [
        'a digest of the wrong length',
        () => sign(key.KeyId!, 'ECDSA_SHA_256', Buffer.alloc(48), 'DIGEST'),
        'ValidationException',
        /Digest is invalid length/,
      ],
      [
        'a message over 4096 bytes',
        () => sign(key.KeyId!, 'ECDSA_SHA_256', Buffer.alloc(4097)),
        'ValidationException',
        /4096/,
      ],
      [
        'SIGN_VERIFY for a symmetric key',
        () => kms.send(new CreateKeyCommand({ KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'SIGN_VERIFY' })),
        'ValidationException',
        /not compatible with KeySpec SYMMETRIC_DEFAULT/,
      ],
      [
        'a key spec the emulator does not make',
        () => kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY' })),
        'UnsupportedOperationException',
        /does not make ECC_NIST_EDWARDS25519/,
      ],
      [
        'GetPublicKey of a symmetric key',
        () => kms.send(new GetPublicKeyCommand({ KeyId: symmetric.KeyId })),
        'UnsupportedOperationException',
        /symmetric/,
      ],
      [
        'an alias under alias/aws/',
        () => kms.send(new CreateAliasCommand({ AliasName: 'alias/aws/mine', TargetKeyId: key.KeyId })),
        'InvalidAliasNameException',
        /alias\/aws\//,
      ],
      [
        'an alias without its prefix',
        () => kms.send(new CreateAliasCommand({ AliasName: 'mine', TargetKeyId: key.KeyId })),
        'InvalidAliasNameException',
        /prefix "alias\/"/,
      ],
      [
        'a signature that does not verify',
        () =>
          kms.send(
            new VerifyCommand({
              KeyId: key.KeyId,
              Message: Buffer.from('m'),
              Signature: Buffer.alloc(70, 1),
              SigningAlgorithm: 'ECDSA_SHA_256',
            }),
          ),
        'KMSInvalidSignatureException',
        /not valid/,
      ],
    ];
    for (const [what, call, name, message] of cases) {
      const error = await failure(call()).catch((thrown: Error) => {
        throw new Error(`${what}: ${thrown.message}`);
      });
      expect(error.name, what).toBe(name);
      expect(error.message, what).toMatch(message);
      expect(error.status, what).toBe(name in ERROR_STATUS ? ERROR_STATUS[name as keyof typeof ERROR_STATUS] : 400);
    }
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/twice', TargetKeyId: key.KeyId }));
    expect(
      await failure(kms.send(new CreateAliasCommand({ AliasName: 'alias/twice', TargetKeyId: rsa.KeyId }))),
    ).toEqual({
      name: 'AlreadyExistsException',
      status: 409,
      message: expect.stringMatching(/alias\/twice already exists/),
    });
  });

  it('refuses a disabled key (DisabledException) and a key pending deletion (KMSInvalidStateException)', async () => {
    const key = await createKey('ECC_NIST_P256');
    const sign = () =>
      kms.send(new SignCommand({ KeyId: key.KeyId, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' }));
    await kms.send(new DisableKeyCommand({ KeyId: key.KeyId }));
    expect(await failure(sign())).toMatchObject({ name: 'DisabledException', status: 409 });
    expect(await failure(kms.send(new GetPublicKeyCommand({ KeyId: key.KeyId })))).toMatchObject({
      name: 'DisabledException',
    });
    await kms.send(new EnableKeyCommand({ KeyId: key.KeyId }));
    expect((await sign()).Signature?.length).toBeGreaterThan(8);
    const scheduled = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));
    expect(scheduled.KeyState).toBe('PendingDeletion');
    expect(await failure(sign())).toMatchObject({ name: 'KMSInvalidStateException', status: 409 });
    expect(
      await failure(kms.send(new CreateAliasCommand({ AliasName: 'alias/late', TargetKeyId: key.KeyId }))),
    ).toMatchObject({ name: 'KMSInvalidStateException' });
    expect((await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata).toMatchObject({
      KeyState: 'PendingDeletion',
      Enabled: false,
    });
  });

  describe('with IAM', () => {
    const principal = (statements: unknown[]) => ({
      roleArn: 'arn:aws:iam::000000000000:role/SignerRole',
      sessionName: 'signer',
      policies: [{ Version: '2012-10-17', Statement: statements }] as never,
    });

    it('authorizes Sign on the key ARN, also through an alias, and denies other keys and actions', async () => {
      const allowed = await createKey('ECC_NIST_P256');
      const other = await createKey('ECC_NIST_P256');
      await kms.send(new CreateAliasCommand({ AliasName: 'alias/allowed', TargetKeyId: allowed.KeyId }));
      await kms.send(new CreateAliasCommand({ AliasName: 'alias/other', TargetKeyId: other.KeyId }));
      const signer = new KMSClient({
        credentials: fixture.stack.iam.guard.issue(
          principal([{ Effect: 'Allow', Action: ['kms:Sign', 'kms:GetPublicKey'], Resource: allowed.Arn }]),
        ),
      });
      const sign = (KeyId: string) =>
        signer.send(new SignCommand({ KeyId, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' }));
      expect((await sign('alias/allowed')).KeyId).toBe(allowed.Arn);
      expect((await sign(allowed.KeyId!)).KeyId).toBe(allowed.Arn);
      const denied = await failure(sign('alias/other'));
      expect(denied).toMatchObject({ name: 'AccessDeniedException', status: 400 });
      expect(denied.message).toContain(`not authorized to perform: kms:Sign on resource: ${other.Arn}`);
      expect(denied.message).toContain('assumed-role/SignerRole/signer');
      expect(
        await failure(signer.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))),
      ).toMatchObject({
        name: 'AccessDeniedException',
      });
      expect(await failure(signer.send(new DescribeKeyCommand({ KeyId: allowed.KeyId })))).toMatchObject({
        name: 'AccessDeniedException',
      });
      const recorded = fixture.stack.iam.guard.denials.map((denial) => `${denial.action} ${denial.resource}`);
      expect(recorded).toEqual(
        expect.arrayContaining([`kms:Sign ${other.Arn}`, 'kms:CreateKey *', `kms:DescribeKey ${allowed.Arn}`]),
      );
      signer.destroy();
    });

    it('evaluates the signing algorithm and the alias as condition keys', async () => {
      const key = await createKey('RSA_2048');
      await kms.send(new CreateAliasCommand({ AliasName: 'alias/conditioned', TargetKeyId: key.KeyId }));
      const signer = new KMSClient({
        credentials: fixture.stack.iam.guard.issue(
          principal([
            {
              Effect: 'Allow',
              Action: 'kms:Sign',
              Resource: key.Arn,
              Condition: {
                StringEquals: { 'kms:SigningAlgorithm': 'RSASSA_PSS_SHA_256', 'kms:RequestAlias': 'alias/conditioned' },
              },
            },
          ]),
        ),
      });
      const sign = (KeyId: string, SigningAlgorithm: string) =>
        signer.send(new SignCommand({ KeyId, Message: Buffer.from('m'), SigningAlgorithm: SigningAlgorithm as never }));
      expect((await sign('alias/conditioned', 'RSASSA_PSS_SHA_256')).SigningAlgorithm).toBe('RSASSA_PSS_SHA_256');
      expect(await failure(sign('alias/conditioned', 'RSASSA_PKCS1_V1_5_SHA_256'))).toMatchObject({
        name: 'AccessDeniedException',
      });
      expect(await failure(sign(key.KeyId!, 'RSASSA_PSS_SHA_256'))).toMatchObject({ name: 'AccessDeniedException' });
      signer.destroy();
    });
  });

  it('writes nothing of its keys to the state directory', async () => {
    const key = await createKey('ECC_NIST_P256');
    const { PublicKey } = await kms.send(new GetPublicKeyCommand({ KeyId: key.KeyId }));
    await kms.send(new SignCommand({ KeyId: key.KeyId, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' }));
    await fixture.settle();
    const files = filesUnder(fixture.stateDir);
    expect(files.length).toBeGreaterThan(0);
    const der = Buffer.from(PublicKey!);
    // Not even the public key or the key's id is on disk: no record of the key exists there at all.
    const needles = [der, Buffer.from(der.toString('base64')), Buffer.from(key.KeyId!)];
    for (const file of files) {
      const content = readFileSync(file);
      for (const needle of needles) expect(content.includes(needle), file).toBe(false);
    }
    // The one private key on disk is the MQTT broker's own TLS identity (local/mqtt/endpoint.ts).
    const withPrivateKeys = files.filter((file) => readFileSync(file).includes('PRIVATE KEY'));
    expect(withPrivateKeys.map((file) => relative(fixture.stateDir, file))).toEqual([join('mqtt', 'server.key')]);
  });
});
