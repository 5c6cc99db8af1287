/**
 * The services that hold a signer CA's key — AWS KMS and AWS Private CA — as `ca create` reaches
 * them: the account's (the default credential chain and Region, `--region`), or with `--local` the
 * embedded stack's emulators, found the way every other `--local` command finds its stack.
 * Their failures become one named error with what to do about it.
 */
import { ACMPCAClient } from '@aws-sdk/client-acm-pca';
import { KMSClient } from '@aws-sdk/client-kms';
import { localTarget, type GlobalOptions } from './context.ts';
import { CliError, type Output } from './output.ts';

export type SignerKind = 'kms' | 'pca';

export const SERVICE_NAMES: Record<SignerKind, string> = { kms: 'AWS KMS', pca: 'AWS Private CA' };

export interface SignerServices {
  where: 'aws' | 'local';
  kms: () => KMSClient;
  pca: () => ACMPCAClient;
  close: () => Promise<void>;
}

/**
 * `why`: what the running `iot-ca up` is needed for, said when none runs (default: `ca create`'s
 * reason; `device connect --signer` signs with a key that stack holds).
 */
export const signerServices = async (
  global: GlobalOptions,
  out: Output,
  why = 'ca create makes the key in the running stack, which the drop that follows signs with.',
): Promise<SignerServices> => {
  const made: Array<{ destroy(): void }> = [];
  const keep = <T extends { destroy(): void }>(client: T): T => {
    made.push(client);
    return client;
  };
  if (!global.local) {
    const config = global.region ? { region: global.region } : {};
    return {
      where: 'aws',
      kms: () => keep(new KMSClient(config)),
      pca: () => keep(new ACMPCAClient(config)),
      close: async () => {
        for (const client of made) client.destroy();
      },
    };
  }
  const target = await localTarget({
    onProgress: out.progress,
    onNotice: out.notice,
    // The local KMS and Private CA hold their keys in the running stack's memory, as the services
    // hold them in theirs: a stack started for this command alone would take the key with it.
    attachOnly: why,
  });
  const config = (kind: SignerKind) => {
    const reach = target.serviceConfig?.(kind);
    if (!reach) {
      throw new CliError(
        'NoLocalSignerServiceError',
        `The local stack has no ${SERVICE_NAMES[kind]} emulator: stop it (iot-ca down) and start it again with this version (iot-ca up).`,
      );
    }
    return reach;
  };
  return {
    where: 'local',
    kms: () => keep(new KMSClient({ ...config('kms'), maxAttempts: 3 })),
    pca: () => keep(new ACMPCAClient({ ...config('pca'), maxAttempts: 3 })),
    close: async () => {
      for (const client of made) client.destroy();
      await target.close();
    },
  };
};

interface AwsLikeError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** What each service needs to let `ca create` run, for the access-denied remedy. */
export const CREATE_PERMISSIONS: Record<SignerKind, string> = {
  kms: 'kms:CreateKey, kms:CreateAlias, kms:GetPublicKey and kms:Sign',
  pca: 'acm-pca:CreateCertificateAuthority, acm-pca:GetCertificateAuthorityCsr, acm-pca:IssueCertificate, acm-pca:GetCertificate, acm-pca:ImportCertificateAuthorityCertificate and acm-pca:GetCertificateAuthorityCertificate',
};

const NETWORK = /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENOTFOUND|socket hang up|fetch failed|UND_ERR/i;

/**
 * One SDK failure as the operator should read it. `operation` is the API call (`CreateKey`);
 * `made` says what already exists in the account so nothing is left behind unknowingly.
 */
export const serviceError = (
  error: unknown,
  kind: SignerKind,
  operation: string,
  where: SignerServices['where'],
  made?: string,
): Error => {
  if (error instanceof CliError) return error;
  const aws = (error ?? {}) as AwsLikeError;
  const name = aws.name ?? 'Error';
  const message = aws.message ?? String(error);
  const service = SERVICE_NAMES[kind];
  const left = made ? ` ${made}` : '';
  const status = aws.$metadata?.httpStatusCode ?? 0;
  if (/Region is missing/i.test(message)) {
    return new CliError('NoRegionError', 'No AWS Region: pass --region or set AWS_REGION (or use --local).');
  }
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return new CliError(
      'NoCredentialsError',
      'No AWS credentials found; configure them (aws configure, AWS_PROFILE, ...), or use --local for the embedded stack.',
    );
  }
  if (NETWORK.test(`${aws.code ?? ''} ${message}`)) {
    return new CliError(
      where === 'local' ? 'LocalStackUnreachableError' : 'ServiceUnreachableError',
      where === 'local'
        ? `The local ${service} emulator does not answer (${operation}): is iot-ca up still running? Start it again.${left}`
        : `${service} does not answer (${operation}): ${message}. Check the network and --region.${left}`,
    );
  }
  if (name === 'AccessDeniedException' || name === 'AccessDenied' || status === 403) {
    return new CliError(
      'AccessDeniedError',
      `${service} refused ${operation}: ${message}. The credentials need ${CREATE_PERMISSIONS[kind]}.${left}`,
    );
  }
  if (name === 'UnrecognizedClientException' || name === 'InvalidSignatureException') {
    return new CliError(
      'InvalidCredentialsError',
      `${service} does not accept these credentials (${name}): refresh them (an expired session?).${left}`,
    );
  }
  if (name === 'LimitExceededException') {
    return new CliError(
      'ServiceLimitError',
      `${service} refused ${operation}: ${message}. Delete unused ${kind === 'kms' ? 'keys or aliases' : 'certificate authorities'}, or ask AWS for a higher quota.${left}`,
    );
  }
  return new CliError(
    name.endsWith('Error') ? name : `${name.replace(/Exception$/, '')}Error`,
    `${service} ${operation} failed: ${message}.${left}`,
  );
};
