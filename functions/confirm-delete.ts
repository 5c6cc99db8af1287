import type { IoTClient } from '@aws-sdk/client-iot';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createIotClient, describeCa } from './aws/iot.ts';
import { createS3Client, isMissingObject } from './aws/s3.ts';
import { awsCall } from './aws/sdk-errors.ts';
import { step } from './lambda/middleware.ts';
import { ConfirmDeleteInputSchema, ConfirmDeleteOutputSchema, type DeleteDecision } from './core/retire.ts';
import { keyCandidates } from './core/source.ts';
import type * as z from 'zod/mini';

/** The object's LastModified (as written, or URL-decoded), undefined when it is not in the bucket. */
const lastModified = async (s3: S3Client, bucket: string, key: string): Promise<Date | undefined> => {
  for (const candidate of keyCandidates(key)) {
    try {
      const head = await awsCall('HeadObject', () =>
        s3.send(new HeadObjectCommand({ Bucket: bucket, Key: candidate })),
      );
      return head.LastModified ?? new Date(0);
    } catch (error) {
      if (!isMissingObject(error)) throw error;
    }
  }
  return undefined;
};

/**
 * Whether the object came back since the retirement started. S3 keeps LastModified in whole
 * seconds, so it counts as written since only when its second is after the start's second: an
 * object written in the start's own second is read as the one left in place (retire, rotate;
 * a real re-upload runs register-ca, which makes the CA ACTIVE, and that cancels on its own). A
 * retirement started by the object's delete (cause `s3-delete:`) had no object: any object there
 * came back, whatever its date (a delete marker removed brings back the old version and its date).
 */
const cameBack = (found: Date, startedAt: string | undefined, byDelete: boolean): boolean => {
  if (byDelete) return true;
  const start = Date.parse(startedAt ?? '');
  if (Number.isNaN(start)) return true;
  return found.getTime() >= (Math.floor(start / 1000) + 1) * 1000;
};

/**
 * After the delete-after Wait: is the CA still meant to go? Re-uploading its object starts
 * register-ca, which makes the CA ACTIVE again (and AWS refuses to delete an ACTIVE CA anyway);
 * an object written since the retirement started cancels too, even before its flow has run. An
 * object that never left the bucket (`iot-ca retire`, `rotate`) does not. A CA already gone is done.
 *
 * With `refusal` (DeleteCACertificate was refused, CertificateStateException: "the certificate
 * operation is not allowed"), the CA is described again and never deleted on this pass:
 * `cancelled` only when it is ACTIVE again (or its object came back), otherwise the receipt stays
 * `retired` with the refusal's cause in its detail.
 */
export const confirmDelete = async (
  iot: IoTClient,
  s3: S3Client,
  event: z.infer<typeof ConfirmDeleteInputSchema>,
): Promise<DeleteDecision> => {
  const { plan, startedAt, refusal } = event;
  const certificateId = plan.certificateId as string;
  const refused = refusal
    ? `DeleteCACertificate was refused (${refusal.Error ?? 'error'}: ${refusal.Cause ?? 'no cause given'})`
    : undefined;
  const ca = await describeCa(iot, certificateId);
  if (!ca)
    return {
      delete: false,
      outcome: 'deleted',
      detail: `CA ${certificateId} was already deleted${refused ? ` (after ${refused})` : ''}.`,
    };
  if (ca.status === 'ACTIVE')
    return {
      delete: false,
      outcome: 'cancelled',
      detail: `${refused ? `${refused}; ` : ''}CA ${certificateId} is ACTIVE again (registered anew): not deleted.`,
    };
  const found = plan.source ? await lastModified(s3, plan.source.bucket, plan.source.key) : undefined;
  const where = plan.source ? `s3://${plan.source.bucket}/${plan.source.key}` : '';
  if (found && cameBack(found, startedAt, plan.cause.startsWith('s3-delete:')))
    return {
      delete: false,
      outcome: 'cancelled',
      detail: `${refused ? `${refused}; ` : ''}${where} was uploaded again (LastModified ${found.toISOString()}, retirement started ${startedAt ?? 'unknown'}): CA ${certificateId} not deleted.`,
    };
  if (refused)
    return {
      delete: false,
      outcome: 'retired',
      detail: `${refused}; CA ${certificateId} is ${ca.status}: not deleted.`,
    };
  const object = !plan.source
    ? 'no object is known for it'
    : found
      ? `${where} is still there, unchanged since before the retirement started (LastModified ${found.toISOString()})`
      : `${where} is gone`;
  return { delete: true, detail: `CA ${certificateId} is ${ca.status} and ${object}: deleting.` };
};

const iot = createIotClient();
const s3 = createS3Client();
export const handler = step({ input: ConfirmDeleteInputSchema, output: ConfirmDeleteOutputSchema }, (event) =>
  confirmDelete(iot, s3, event),
);
