/**
 * The KMS emulator as its server and the stack see it: the keys, aliases and key states of
 * KeyRegistry (key-registry.ts) plus the operations that use a key's material, GetPublicKey, Sign
 * and Verify, which the pipeline's signer and `iot-ca ca create` call. Everything lives in memory:
 * a key lasts as long as the stack that made it (docs/adr/0022-kms-and-private-ca-keys-in-memory.md).
 */
import { blob, frontEndError, oneOf, required, validationError } from '../json11.ts';
import { kmsError } from './errors.ts';
import { ENCRYPTION_ALGORITHMS, KeyRegistry } from './key-registry.ts';
import { MESSAGE_TYPES, type MessageType, messageProblem, SIGNING_ALGORITHMS, type SigningAlgorithm } from './keys.ts';

export class KmsService extends KeyRegistry {
  getPublicKey(body: Record<string, any>) {
    const key = this.find(required<string>(body, 'KeyId', 'keyId'));
    this.usable(key);
    const der = key.material.publicKeyDer();
    if (!der) throw kmsError('UnsupportedOperationException', `${key.arn} is a symmetric key: it has no public key.`);
    const { spec, usage, signingAlgorithms } = key.material;
    return {
      KeyId: key.arn,
      PublicKey: der.toString('base64'),
      CustomerMasterKeySpec: spec,
      KeySpec: spec,
      KeyUsage: usage,
      ...(usage === 'SIGN_VERIFY' ? { SigningAlgorithms: [...signingAlgorithms] } : {}),
      ...(usage === 'ENCRYPT_DECRYPT' ? { EncryptionAlgorithms: ENCRYPTION_ALGORITHMS[spec] ?? [] } : {}),
    };
  }

  /** The key, algorithm, message and message type of a Sign or Verify call, checked as KMS does. */
  private signingCall(body: Record<string, any>, operation: 'Sign' | 'Verify') {
    const keyId = required<string>(body, 'KeyId', 'keyId');
    const message = blob(body, 'Message');
    const algorithm = oneOf(body, 'SigningAlgorithm', SIGNING_ALGORITHMS) as SigningAlgorithm;
    const messageType = oneOf(body, 'MessageType', MESSAGE_TYPES, 'RAW') as MessageType;
    if (message.length === 0 || message.length > 4096)
      throw validationError('message', '…', 'Member must have length between 1 and 4096');
    const key = this.find(keyId);
    this.usable(key);
    const { usage, spec, signingAlgorithms } = key.material;
    if (usage !== 'SIGN_VERIFY')
      throw kmsError(
        'InvalidKeyUsageException',
        `${key.arn} key usage is ${usage} which is not valid for ${operation}.`,
      );
    if (!signingAlgorithms.includes(algorithm))
      throw kmsError(
        'InvalidKeyUsageException',
        `Algorithm ${algorithm} is incompatible with key spec ${spec}: use ${signingAlgorithms.join(' or ')}.`,
      );
    if (messageType === 'EXTERNAL_MU')
      throw frontEndError('ValidationException', 'MessageType EXTERNAL_MU is valid only for ML_DSA keys.');
    const problem = messageProblem(algorithm, message, messageType);
    if (problem) throw frontEndError('ValidationException', problem);
    return { key, message, algorithm, messageType };
  }

  sign(body: Record<string, any>) {
    const { key, message, algorithm, messageType } = this.signingCall(body, 'Sign');
    return {
      KeyId: key.arn,
      Signature: key.material.sign(algorithm, message, messageType).toString('base64'),
      SigningAlgorithm: algorithm,
    };
  }

  verify(body: Record<string, any>) {
    const signature = blob(body, 'Signature');
    const { key, message, algorithm, messageType } = this.signingCall(body, 'Verify');
    if (!key.material.verify(algorithm, message, messageType, signature))
      throw kmsError('KMSInvalidSignatureException', 'The signature is not valid for this key, message and algorithm.');
    return { KeyId: key.arn, SignatureValid: true, SigningAlgorithm: algorithm };
  }
}
