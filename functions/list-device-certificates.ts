import type { IoTClient } from '@aws-sdk/client-iot';
import { createIotClient } from './aws/iot.ts';
import { listCertificatesByCa } from './aws/retire.ts';
import { step } from './lambda/middleware.ts';
import { readRetireConfig } from './lambda/config.ts';
import {
  countByStatus,
  ListDeviceCertificatesInputSchema,
  ListDeviceCertificatesOutputSchema,
  type DeviceCertificates,
} from './core/retire.ts';
import type * as z from 'zod/mini';

/**
 * The device certificates the CA signed (the console cannot list them): ListCertificatesByCA, all
 * pages, under the quota; counted by status for the receipt. Deactivating the CA does not stop them.
 */
export const listDeviceCertificates = async (
  iot: IoTClient,
  tps: number,
  event: z.infer<typeof ListDeviceCertificatesInputSchema>,
): Promise<DeviceCertificates> =>
  countByStatus((await listCertificatesByCa(iot, event.certificateId, tps)).map((certificate) => certificate.status));

const iot = createIotClient();
const { tps } = readRetireConfig();
export const handler = step(
  { input: ListDeviceCertificatesInputSchema, output: ListDeviceCertificatesOutputSchema },
  (event) => listDeviceCertificates(iot, tps, event),
);
