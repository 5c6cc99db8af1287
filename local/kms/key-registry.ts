/**
 * The KMS emulator's keys: key material, aliases and key states (Enabled, Disabled,
 * PendingDeletion), how a KeyId (key id, key ARN, alias name or alias ARN) finds its key, and the
 * key-management operations: CreateKey, DescribeKey, CreateAlias, ListAliases, DisableKey,
 * EnableKey and ScheduleKeyDeletion. KmsService (service.ts) adds the operations that use a key.
 * Everything lives in memory: a key lasts as long as the stack that made it
 * (docs/adr/0022-kms-and-private-ca-keys-in-memory.md).
 */
import { randomUUID } from 'node:crypto';
import { oneOf, required, validationError } from '../json11.ts';
import { kmsError } from './errors.ts';
import { KEY_SPECS, KEY_USAGES, KeyMaterial } from './keys.ts';

type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';

interface Key {
  id: string;
  arn: string;
  created: number;
  description: string;
  state: KeyState;
  deletion?: { date: number; days: number };
  material: KeyMaterial;
}

interface Alias {
  name: string;
  arn: string;
  keyId: string;
  created: number;
}

const seconds = (ms: number) => Math.floor(ms / 1000);

/** The EncryptionAlgorithms of an ENCRYPT_DECRYPT key, by key spec (DescribeKey, GetPublicKey). */
export const ENCRYPTION_ALGORITHMS: Record<string, string[]> = {
  SYMMETRIC_DEFAULT: ['SYMMETRIC_DEFAULT'],
  RSA_2048: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'],
  RSA_3072: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'],
  RSA_4096: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'],
};

export class KeyRegistry {
  private readonly keys = new Map<string, Key>();
  private readonly aliases = new Map<string, Alias>();

  constructor(
    readonly region: string,
    readonly account: string,
  ) {}

  private arn(resource: string): string {
    return `arn:aws:kms:${this.region}:${this.account}:${resource}`;
  }

  /** The key a KeyId names: a key id, key ARN, alias name or alias ARN (NotFoundException if none). */
  protected find(keyId: string): Key {
    const arnMatch = /^arn:aws:kms:([^:]*):([^:]*):(key|alias)\/(.+)$/.exec(keyId);
    if (keyId.startsWith('arn:') && !arnMatch) throw kmsError('NotFoundException', `Invalid arn ${keyId}`);
    if (arnMatch && (arnMatch[1] !== this.region || arnMatch[2] !== this.account))
      throw kmsError('NotFoundException', `Key '${keyId}' does not exist`);
    const [kind, name] = arnMatch
      ? [arnMatch[3], arnMatch[4] as string]
      : keyId.startsWith('alias/')
        ? ['alias', keyId.slice(6)]
        : ['key', keyId];
    if (kind === 'alias') {
      const alias = this.aliases.get(`alias/${name}`);
      if (!alias) throw kmsError('NotFoundException', `Alias '${this.arn(`alias/${name}`)}' is not found.`);
      return this.keys.get(alias.keyId) as Key;
    }
    const key = this.keys.get(name);
    if (!key) {
      if (!/^(mrk-)?[0-9a-f-]{32,36}$/.test(name)) throw kmsError('NotFoundException', `Invalid keyId '${keyId}'`);
      throw kmsError('NotFoundException', `Key '${this.arn(`key/${name}`)}' does not exist`);
    }
    return key;
  }

  /** The key ARN a KeyId resolves to, if any (what IAM evaluates, even for an alias). */
  keyArnOf(keyId: unknown): string | undefined {
    if (typeof keyId !== 'string' || !keyId) return undefined;
    try {
      return this.find(keyId).arn;
    } catch {
      return undefined;
    }
  }

  /** How many keys the emulator holds (tests: nothing was made that was not asked for). */
  get size(): number {
    return this.keys.size;
  }

  protected usable(key: Key): void {
    if (key.state === 'Disabled') throw kmsError('DisabledException', `${key.arn} is disabled.`);
    if (key.state === 'PendingDeletion') throw kmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
  }

  private metadata(key: Key) {
    const { spec, usage, signingAlgorithms } = key.material;
    return {
      AWSAccountId: this.account,
      KeyId: key.id,
      Arn: key.arn,
      CreationDate: seconds(key.created),
      Enabled: key.state === 'Enabled',
      Description: key.description,
      KeyUsage: usage,
      KeyState: key.state,
      ...(key.deletion
        ? { DeletionDate: seconds(key.deletion.date), PendingDeletionWindowInDays: key.deletion.days }
        : {}),
      Origin: 'AWS_KMS',
      KeyManager: 'CUSTOMER',
      CustomerMasterKeySpec: spec,
      KeySpec: spec,
      ...(usage === 'SIGN_VERIFY' ? { SigningAlgorithms: [...signingAlgorithms] } : {}),
      ...(usage === 'ENCRYPT_DECRYPT' ? { EncryptionAlgorithms: ENCRYPTION_ALGORITHMS[spec] ?? [] } : {}),
      MultiRegion: false,
    };
  }

  createKey(body: Record<string, any>) {
    const spec = oneOf(
      body,
      body.KeySpec === undefined ? 'CustomerMasterKeySpec' : 'KeySpec',
      KEY_SPECS,
      'SYMMETRIC_DEFAULT',
    );
    const usage = oneOf(body, 'KeyUsage', KEY_USAGES, 'ENCRYPT_DECRYPT');
    if (body.Origin !== undefined && body.Origin !== 'AWS_KMS')
      throw kmsError('UnsupportedOperationException', `The local KMS makes only AWS_KMS keys, not ${body.Origin}.`);
    if (body.MultiRegion === true)
      throw kmsError('UnsupportedOperationException', 'The local KMS does not make multi-Region keys.');
    if (body.Description !== undefined && String(body.Description).length > 8192)
      throw validationError('description', '…', 'Member must have length less than or equal to 8192');
    const material = KeyMaterial.create(spec, usage);
    const id = randomUUID();
    const key: Key = {
      id,
      arn: this.arn(`key/${id}`),
      created: Date.now(),
      description: String(body.Description ?? ''),
      state: 'Enabled',
      material,
    };
    this.keys.set(id, key);
    return { KeyMetadata: this.metadata(key) };
  }

  describeKey(body: Record<string, any>) {
    return { KeyMetadata: this.metadata(this.find(required<string>(body, 'KeyId', 'keyId'))) };
  }

  createAlias(body: Record<string, any>) {
    const name = required<string>(body, 'AliasName', 'aliasName');
    const target = required<string>(body, 'TargetKeyId', 'targetKeyId');
    if (!/^alias\/[a-zA-Z0-9/_-]+$/.test(name) || name.length > 256)
      throw kmsError(
        'InvalidAliasNameException',
        `Alias must start with the prefix "alias/" followed by letters, digits, "/", "_" or "-": ${name}`,
      );
    if (name.startsWith('alias/aws/'))
      throw kmsError('InvalidAliasNameException', `Cannot create alias with prefix 'alias/aws/': ${name}`);
    if (target.startsWith('alias/') || /:alias\//.test(target))
      throw kmsError('NotFoundException', `TargetKeyId must name a key (key id or key ARN), not an alias: ${target}`);
    const key = this.find(target);
    if (key.state === 'PendingDeletion') throw kmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    if (this.aliases.has(name))
      throw kmsError('AlreadyExistsException', `An alias with the name ${this.arn(name)} already exists`);
    this.aliases.set(name, { name, arn: this.arn(name), keyId: key.id, created: Date.now() });
    return {};
  }

  listAliases(body: Record<string, any>) {
    const limit = body.Limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100)
      throw validationError('limit', limit, 'Member must have value between 1 and 100');
    const keyId = body.KeyId === undefined ? undefined : this.find(String(body.KeyId)).id;
    const all = [...this.aliases.values()].filter((alias) => keyId === undefined || alias.keyId === keyId);
    const start = body.Marker === undefined ? 0 : Number(body.Marker);
    if (!Number.isInteger(start) || start < 0 || start > all.length)
      throw kmsError('InvalidMarkerException', `Invalid marker: ${body.Marker}`);
    const page = all.slice(start, start + limit);
    const truncated = start + limit < all.length;
    return {
      Aliases: page.map((alias) => ({
        AliasName: alias.name,
        AliasArn: alias.arn,
        TargetKeyId: alias.keyId,
        CreationDate: seconds(alias.created),
        LastUpdatedDate: seconds(alias.created),
      })),
      Truncated: truncated,
      ...(truncated ? { NextMarker: String(start + limit) } : {}),
    };
  }

  disableKey(body: Record<string, any>) {
    const key = this.find(required<string>(body, 'KeyId', 'keyId'));
    if (key.state === 'PendingDeletion') throw kmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    key.state = 'Disabled';
    return {};
  }

  enableKey(body: Record<string, any>) {
    const key = this.find(required<string>(body, 'KeyId', 'keyId'));
    if (key.state === 'PendingDeletion') throw kmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    key.state = 'Enabled';
    return {};
  }

  /**
   * Schedules a deletion that never runs here (the stack does not live for 7 days): the key stays
   * PendingDeletion, refusing to sign, for as long as the stack lasts.
   */
  scheduleKeyDeletion(body: Record<string, any>) {
    const key = this.find(required<string>(body, 'KeyId', 'keyId'));
    const days = body.PendingWindowInDays ?? 30;
    if (!Number.isInteger(days) || days < 7 || days > 30)
      throw validationError('pendingWindowInDays', days, 'Member must have value between 7 and 30');
    if (key.state === 'PendingDeletion') throw kmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    key.state = 'PendingDeletion';
    key.deletion = { date: Date.now() + days * 86_400_000, days };
    return {
      KeyId: key.arn,
      DeletionDate: seconds(key.deletion.date),
      KeyState: key.state,
      PendingWindowInDays: days,
    };
  }
}
