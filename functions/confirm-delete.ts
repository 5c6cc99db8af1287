import type { IoTClient } from '@aws-sdk/client-iot';
import type { S3Client } from '@aws-sdk/client-s3';
import { createIotClient, describeCa } from './aws/iot.ts';
import { objectExists } from './aws/retire.ts';
import { createS3Client } from './aws/s3.ts';
import { step } from './lambda/middleware.ts';
import { ConfirmDeleteInputSchema, ConfirmDeleteOutputSchema, type DeleteDecision } from './core/retire.ts';
import type * as z from 'zod/mini';

/**
 * After the delete-after Wait: is the CA still meant to go? Re-uploading its object starts
 * register-ca, which makes the CA ACTIVE again (and AWS refuses to delete an ACTIVE CA anyway);
 * an object back in the bucket cancels too, even before its flow has run. A CA already gone is done.
 */
export const confirmDelete = async (
  iot: IoTClient,
  s3: S3Client,
  event: z.infer<typeof ConfirmDeleteInputSchema>,
): Promise<DeleteDecision> => {
  const { plan } = event;
  const certificateId = plan.certificateId as string;
  const ca = await describeCa(iot, certificateId);
  if (!ca) return { delete: false, outcome: 'deleted', detail: `CA ${certificateId} was already deleted.` };
  if (ca.status === 'ACTIVE')
    return {
      delete: false,
      outcome: 'cancelled',
      detail: `CA ${certificateId} is ACTIVE again (registered anew): not deleted.`,
    };
  if (plan.source && (await objectExists(s3, plan.source.bucket, plan.source.key)))
    return {
      delete: false,
      outcome: 'cancelled',
      detail: `s3://${plan.source.bucket}/${plan.source.key} was uploaded again: CA ${certificateId} not deleted.`,
    };
  return { delete: true, detail: `CA ${certificateId} is ${ca.status} and its object is gone: deleting.` };
};

const iot = createIotClient();
const s3 = createS3Client();
export const handler = step({ input: ConfirmDeleteInputSchema, output: ConfirmDeleteOutputSchema }, (event) =>
  confirmDelete(iot, s3, event),
);
