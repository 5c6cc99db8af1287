/**
 * The KMS emulator on the wire: JSON 1.1, `X-Amz-Target: TrentService.<Operation>`, as
 * @aws-sdk/client-kms speaks it, bound to 127.0.0.1 only.
 */
import { type AuthorizeJson, type RunningServer, startJson11Server } from '../json11.ts';
import { answerable, type KmsOperation } from './operations.ts';
import type { KmsService } from './service.ts';

export const kmsOperations = (kms: KmsService): Record<KmsOperation, (body: Record<string, any>) => unknown> => ({
  CreateKey: (body) => kms.createKey(body),
  CreateAlias: (body) => kms.createAlias(body),
  ListAliases: (body) => kms.listAliases(body),
  DescribeKey: (body) => kms.describeKey(body),
  GetPublicKey: (body) => kms.getPublicKey(body),
  Sign: (body) => kms.sign(body),
  Verify: (body) => kms.verify(body),
  DisableKey: (body) => kms.disableKey(body),
  EnableKey: (body) => kms.enableKey(body),
  ScheduleKeyDeletion: (body) => kms.scheduleKeyDeletion(body),
});

export const startKmsServer = (kms: KmsService, port = 0, authorize?: AuthorizeJson): Promise<RunningServer> =>
  startJson11Server(
    { targetPrefix: 'TrentService', title: 'KMS', operations: kmsOperations(kms), answerable },
    port,
    authorize,
  );
