/**
 * The Private CA emulator as its server and the stack see it: the CA lifecycle of
 * CertificateAuthorityLifecycle (lifecycle.ts) plus issuance. IssueCertificate signs a CSR with a
 * template (EndEntityCertificate/V1, SubordinateCACertificate_PathLen0/V1, or RootCACertificate/V1
 * for a root CA's own CSR, the step before its import) and the validity periods AWS takes;
 * GetCertificate reads the result. Keys and certificates live in memory only
 * (docs/adr/0022-kms-and-private-ca-keys-in-memory.md).
 */
import { randomBytes } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { blob, oneOf, required, validationError } from '../json11.ts';
import { pcaError } from './errors.ts';
import { CertificateAuthorityLifecycle, sameKey } from './lifecycle.ts';
import {
  compatible,
  END_ENTITY_TEMPLATE,
  keyIdentifier,
  ROOT_TEMPLATE,
  SIGNING_ALGORITHMS,
  TEMPLATES,
} from './signing.ts';

const VALIDITY_TYPES = ['END_DATE', 'ABSOLUTE', 'DAYS', 'MONTHS', 'YEARS'] as const;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export class PcaService extends CertificateAuthorityLifecycle {
  /** When the certificate's validity ends, as the Validity member says (AWS's ValidityPeriodType). */
  private notAfter(validity: Record<string, any>, now: number): Date {
    const type = oneOf(validity, 'Type', VALIDITY_TYPES);
    const value = required<number>(validity, 'Value', 'validity.value');
    if (!Number.isInteger(value) || value < 1)
      throw validationError('validity.value', value, 'Member must have value greater than or equal to 1');
    switch (type) {
      case 'DAYS':
        return new Date(now + value * DAY);
      case 'MONTHS':
      case 'YEARS': {
        const date = new Date(now);
        date.setUTCMonth(date.getUTCMonth() + (type === 'MONTHS' ? value : 12 * value));
        return date;
      }
      case 'ABSOLUTE':
        return new Date(value * 1000);
      case 'END_DATE': {
        const match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(String(value));
        if (!match) throw pcaError('InvalidArgsException', `END_DATE must be YYYYMMDDHHMMSS, not ${value}.`);
        const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
        return new Date(Date.UTC(y as number, (mo as number) - 1, d, h, mi, s));
      }
    }
  }

  async issueCertificate(body: Record<string, any>) {
    const ca = this.authority(body.CertificateAuthorityArn);
    const token = typeof body.IdempotencyToken === 'string' ? `issue/${ca.arn}/${body.IdempotencyToken}` : undefined;
    const known = token ? this.idempotency.get(token) : undefined;
    if (known) return { CertificateArn: known };
    const csrBytes = blob(body, 'Csr');
    const signing = oneOf(body, 'SigningAlgorithm', SIGNING_ALGORITHMS);
    const validity = required<Record<string, any>>(body, 'Validity');
    const templateArn = String(body.TemplateArn ?? END_ENTITY_TEMPLATE);
    const template = TEMPLATES[templateArn as keyof typeof TEMPLATES];
    if (!template)
      throw pcaError(
        'InvalidArgsException',
        `The local Private CA serves the templates ${Object.keys(TEMPLATES).join(', ')}, not ${templateArn}.`,
      );
    if (!compatible(ca.key.algorithm, signing))
      throw pcaError(
        'InvalidArgsException',
        `SigningAlgorithm ${signing} cannot be used with this CA's ${ca.key.algorithm} key.`,
      );
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrBytes.toString('utf8'));
    } catch (error) {
      throw pcaError('MalformedCSRException', `The CSR is not a PEM PKCS #10 request: ${(error as Error).message}`);
    }
    if (!(await csr.verify().catch(() => false)))
      throw pcaError('MalformedCSRException', "The CSR's signature does not verify with its own public key.");
    const publicKey = csr.publicKey.rawData;
    const root = templateArn === ROOT_TEMPLATE;
    if (root) {
      if (ca.type !== 'ROOT')
        throw pcaError('InvalidArgsException', 'RootCACertificate/V1 issues only a ROOT CA its own certificate.');
      if (!sameKey(publicKey, ca.key.spki))
        throw pcaError(
          'InvalidArgsException',
          "RootCACertificate/V1 signs only the CA's own CSR (GetCertificateAuthorityCsr).",
        );
    } else if (ca.status !== 'ACTIVE') {
      throw pcaError(
        'InvalidStateException',
        `The certificate authority is ${ca.status}: import its certificate first.`,
      );
    }
    const now = Date.now();
    const notBefore = new Date(
      body.ValidityNotBefore ? this.notAfter(body.ValidityNotBefore, now).getTime() : now - HOUR,
    );
    const notAfter = this.notAfter(validity, now);
    if (notAfter.getTime() <= now) throw pcaError('InvalidArgsException', 'The validity ends before it starts.');
    if (ca.certificate && !root && notAfter > ca.certificate.notAfter)
      throw pcaError('InvalidArgsException', "The certificate's validity exceeds its CA's certificate validity.");
    const serial = randomBytes(16);
    serial[0] = (serial[0] as number) & 0x7f;
    const serialNumber = serial.toString('hex');
    const subjectKeyId = keyIdentifier(publicKey);
    const certificate = await ca.key.certificate({
      serialNumber,
      subject: csr.subjectName,
      issuer: root ? ca.subject : (ca.certificate as x509.X509Certificate).subjectName,
      publicKey,
      notBefore,
      notAfter,
      extensions: template(subjectKeyId, keyIdentifier(ca.key.spki)),
      signing,
    });
    const arn = `${ca.arn}/certificate/${serialNumber}`;
    const chain = ca.certificate ? [ca.certificate.toString('pem'), ca.chain].filter(Boolean).join('\n') : undefined;
    ca.issued.set(arn, { pem: certificate.toString('pem'), ...(chain ? { chain } : {}), reads: 0 });
    if (token) this.idempotency.set(token, arn);
    return { CertificateArn: arn };
  }

  getCertificate(body: Record<string, any>) {
    const ca = this.authority(body.CertificateAuthorityArn);
    const arn = required<string>(body, 'CertificateArn', 'certificateArn');
    if (!arn.startsWith(`${ca.arn}/certificate/`) || !/\/certificate\/[0-9a-f]+$/.test(arn))
      throw pcaError('InvalidArnException', `The ARN is not a certificate of ${ca.arn}: ${arn}`);
    const issued = ca.issued.get(arn);
    if (!issued) throw pcaError('ResourceNotFoundException', `Could not find certificate ${arn}.`);
    if (issued.reads++ === 0)
      throw pcaError('RequestInProgressException', 'The certificate is being issued: wait, then ask again.');
    return { Certificate: issued.pem, ...(issued.chain ? { CertificateChain: issued.chain } : {}) };
  }
}
