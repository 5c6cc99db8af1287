/**
 * The Private CA emulator on the wire: JSON 1.1, `X-Amz-Target: ACMPrivateCA.<Operation>`, as
 * @aws-sdk/client-acm-pca speaks it, bound to 127.0.0.1 only.
 */
import { type AuthorizeJson, type RunningServer, startJson11Server } from '../json11.ts';
import { answerable, type PcaOperation } from './operations.ts';
import type { PcaService } from './service.ts';

export const pcaOperations = (pca: PcaService): Record<PcaOperation, (body: Record<string, any>) => unknown> => ({
  CreateCertificateAuthority: (body) => pca.createCertificateAuthority(body),
  DescribeCertificateAuthority: (body) => pca.describeCertificateAuthority(body),
  ListCertificateAuthorities: (body) => pca.listCertificateAuthorities(body),
  GetCertificateAuthorityCsr: (body) => pca.getCertificateAuthorityCsr(body),
  IssueCertificate: (body) => pca.issueCertificate(body),
  GetCertificate: (body) => pca.getCertificate(body),
  ImportCertificateAuthorityCertificate: (body) => pca.importCertificateAuthorityCertificate(body),
  GetCertificateAuthorityCertificate: (body) => pca.getCertificateAuthorityCertificate(body),
});

export const startPcaServer = (pca: PcaService, port = 0, authorize?: AuthorizeJson): Promise<RunningServer> =>
  startJson11Server(
    { targetPrefix: 'ACMPrivateCA', title: 'Private CA', operations: pcaOperations(pca), answerable },
    port,
    authorize,
  );
