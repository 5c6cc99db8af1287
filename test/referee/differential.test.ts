/**
 * The pipeline's pre-flight against the IoT emulator's registration rules, two implementations of
 * AWS-IOT-RULES.md written apart (node:crypto/OpenSSL in functions/, @peculiar/x509/WebCrypto in
 * local/iot/). For the bad-input corpus and for certificates fast-check makes:
 *
 * - the pipeline never accepts what the emulator refuses (what it sends, the emulator registers);
 * - where the pipeline refuses what the emulator accepts, a deliberate stricter rule below says why
 *   (the same table is docs/aws-iot-rules.md's "Where the pre-flight is stricter than AWS").
 */
import 'reflect-metadata';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkVerification, inspectCaFile, readVerificationFile } from '../../functions/core/certificate.ts';
import { isPipelineError, type PipelineErrorName } from '../../functions/core/errors.ts';
import { IotEmulator, IotError } from '../../local/iot/emulator.ts';
import { foreignSpki } from '../fixtures/pki.ts';
import {
  EC_SPECS,
  fillPool,
  HASHES,
  type Hash,
  type Issued,
  issue,
  type Name,
  poolKey,
  privateKeyPem,
  RSA_SPECS,
  type Submission,
  type Validity,
  windowOf,
} from './certificate-corpus.ts';

/** Where the pre-flight refuses what AWS accepts, on purpose. */
const STRICTER: Array<{ error: PipelineErrorName; rule: string; reason: string }> = [
  {
    error: 'PrivateKeyMaterialError',
    rule: 'A file holding private-key material is refused whole, even beside a good certificate.',
    reason:
      'The key must never travel further (to AWS, a log or a report); AWS would read the certificate and ignore the key.',
  },
  {
    error: 'ObjectTooLargeError',
    rule: 'The 65,536-character limit applies to the whole object, CA and verification certificate together.',
    reason:
      'LoadCertificate reads an object in one ranged GET of at most 64 KiB (ADR 0008); AWS limits each field apart.',
  },
  {
    error: 'AmbiguousCaError',
    rule: 'A verification certificate in the same file as the CA must not itself be a CA.',
    reason:
      'The pipeline tells the CA from the verification certificate by basicConstraints; AWS gets them in two fields.',
  },
  {
    error: 'VerificationSignatureError',
    rule: 'The CA certificate cannot serve as its own verification certificate.',
    reason: 'A self-signed CA whose CN is the code would prove nothing about the registration code; AWS does not say.',
  },
];

/**
 * Where the pipeline accepts what the emulator refuses: bugs in the pre-flight found by this test,
 * to be fixed in functions/ (each entry then fails "still reproduces" and is removed). Empty is the goal.
 */
const KNOWN_GAPS: Array<{ emulator: string; match: RegExp; finding: string }> = [];

const NOW = new Date();
let stateDir: string;
let emulator: IotEmulator;
let code: string;

type Verdict =
  | { accepted: true; sent: { ca: string; verification?: string } }
  | { accepted: false; error: string; message: string };

/** LoadCertificate's and VerifyOwnership's pure cores, in the order the flow runs them. */
const pipeline = (submission: Submission): Verdict => {
  try {
    const file =
      submission.placement === 'same-file' ? `${submission.ca}${submission.verification ?? ''}` : submission.ca;
    const inspection = inspectCaFile(file, NOW);
    const sibling =
      submission.placement === 'sibling' && submission.verification !== undefined
        ? readVerificationFile(submission.verification)
        : undefined;
    const verification = inspection.verificationPem ?? sibling;
    if (submission.mode === 'SNI_ONLY' && inspection.verificationPem)
      return { accepted: false, error: 'VerificationNotAllowedError', message: '' };
    if (submission.mode === 'DEFAULT') {
      if (!verification) return { accepted: false, error: 'VerificationCertificateMissingError', message: '' };
      checkVerification(inspection.caPem, verification, code, NOW);
    }
    return {
      accepted: true,
      sent: { ca: inspection.caPem, ...(submission.mode === 'DEFAULT' && verification ? { verification } : {}) },
    };
  } catch (error) {
    if (isPipelineError(error)) return { accepted: false, error: error.name, message: error.message };
    throw error;
  }
};

/** RegisterCACertificate on the emulator; a CA it registers is deleted again, so no case sees another. */
const register = async (mode: Submission['mode'], ca: string, verification?: string): Promise<Verdict> => {
  try {
    const { certificateId } = await emulator.registerCaCertificate({
      caCertificate: ca,
      certificateMode: mode,
      ...(verification !== undefined ? { verificationCertificate: verification } : {}),
    });
    emulator.deleteCaCertificate(certificateId);
    return { accepted: true, sent: { ca } };
  } catch (error) {
    if (error instanceof IotError) return { accepted: false, error: error.name, message: error.message };
    throw error;
  }
};

interface Judged {
  name: string;
  pipeline: Verdict;
  emulator: Verdict;
  /** 'agree', 'stricter: <error>' or 'gap: …' (a violation unless a KNOWN_GAPS entry covers it). */
  outcome: string;
}

const judge = async (submission: Submission): Promise<Judged> => {
  const preflight = pipeline(submission);
  // What the pipeline would send if it accepts; what the operator gave it if it refuses.
  const judged = preflight.accepted
    ? await register(submission.mode, preflight.sent.ca, preflight.sent.verification)
    : await register(submission.mode, submission.ca, submission.verification);
  let outcome = 'agree';
  if (preflight.accepted && !judged.accepted) {
    const gap = KNOWN_GAPS.find((known) => known.emulator === judged.error && known.match.test(judged.message));
    outcome = gap
      ? `known gap: ${gap.finding}`
      : `gap: the pipeline accepts what the emulator refuses (${judged.error}: ${judged.message})`;
  } else if (!preflight.accepted && judged.accepted) {
    const rule = STRICTER.find((entry) => entry.error === preflight.error);
    outcome = rule
      ? `stricter: ${rule.error}`
      : `unlisted: the pipeline refuses (${preflight.error}) what the emulator accepts`;
  }
  return { name: submission.name, pipeline: preflight, emulator: judged, outcome };
};

const violations = (judged: Judged[]): string[] =>
  judged
    .filter((j) => j.outcome.startsWith('gap:') || j.outcome.startsWith('unlisted:'))
    .map((j) => `${j.name}: ${j.outcome}`);

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'iot-ca-referee-'));
  emulator = new IotEmulator({ stateDir, now: () => NOW });
  code = emulator.getRegistrationCode().registrationCode;
  await fillPool();
}, 120_000);
afterAll(async () => {
  await emulator.flush();
  rmSync(stateDir, { recursive: true, force: true });
});

const RSA2048 = RSA_SPECS['RSA-2048'] as NonNullable<(typeof RSA_SPECS)[string]>;
const P256 = EC_SPECS['P-256'] as NonNullable<(typeof EC_SPECS)[string]>;

const ca = (options: Partial<Parameters<typeof issue>[0]> = {}) =>
  issue({
    spec: RSA2048,
    hash: 'SHA-256',
    subject: 'CN=Referee CA, O=iot-ca-pipeline tests',
    validity: 'valid',
    now: NOW,
    ca: true,
    ...options,
  });
const verificationOf = (issuer: Issued, options: Partial<Parameters<typeof issue>[0]> = {}) =>
  issue({
    spec: P256,
    hash: 'SHA-256',
    subject: `CN=${code}`,
    validity: 'valid',
    now: NOW,
    ca: false,
    issuer,
    ...options,
  });

const pemOf = (label: string, der: Uint8Array) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der)
    .toString('base64')
    .match(/.{1,64}/g)
    ?.join('\n')}\n-----END ${label}-----\n`;
const derOf = (pem: string) => new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64'));

/** The certificate cases of the bad-input corpus, and the good ones, as submissions. */
const corpus = async (): Promise<Submission[]> => {
  const rsa = await ca();
  const ec = await ca({ spec: P256, subject: 'CN=Referee EC CA' });
  const withCode = await ca({ subject: `CN=${code}` });
  const v = (await verificationOf(rsa)).pem;
  const sni = (name: string, text: string): Submission => ({
    name,
    ca: text,
    placement: 'same-file',
    mode: 'SNI_ONLY',
  });
  const def = (
    name: string,
    text: string,
    verification?: string,
    placement: Submission['placement'] = 'same-file',
  ): Submission => ({
    name,
    ca: text,
    ...(verification !== undefined ? { verification } : {}),
    placement,
    mode: 'DEFAULT',
  });
  const key = await privateKeyPem(rsa.keys, 'pkcs8');
  const lines = rsa.pem.trim().split('\n');
  return [
    sni('empty', ''),
    sni('blank', '  \n\t\n\n'),
    sni('random bytes', Buffer.from(Array.from({ length: 700 }, (_, i) => (i * 7919 + 13) % 256)).toString('latin1')),
    sni('JSON', JSON.stringify({ certificatePem: 'x' })),
    sni('bare base64', Buffer.from(derOf(rsa.pem)).toString('base64')),
    sni('garbage base64 in a block', '-----BEGIN CERTIFICATE-----\n@@@not*base64!!!\n-----END CERTIFICATE-----\n'),
    sni('truncated body', [...lines.slice(0, 5), lines.at(-1)].join('\n')),
    sni('missing END line', lines.slice(0, -1).join('\n')),
    sni('DER', Buffer.from(derOf(rsa.pem)).toString('latin1')),
    sni('UTF-16 PEM', Buffer.from(rsa.pem, 'utf16le').toString('latin1')),
    sni('CSR label', pemOf('CERTIFICATE REQUEST', derOf(rsa.pem))),
    sni('PKCS#7 label', pemOf('PKCS7', derOf(rsa.pem))),
    sni('CRL label', pemOf('X509 CRL', derOf(rsa.pem))),
    sni('certificate then private key', `${rsa.pem}${key}`),
    sni('private key then certificate', `${key}${rsa.pem}`),
    sni('private key alone', key),
    sni('leaf certificate', (await ca({ ca: false })).pem),
    sni('no basicConstraints', (await ca({ ca: null })).pem),
    sni('RSA 1024', (await ca({ spec: RSA_SPECS['RSA-1024'] as never })).pem),
    sni('RSA 2047', (await ca({ spec: RSA_SPECS['RSA-2047'] as never })).pem),
    sni('SHA-1 signature', (await ca({ hash: 'SHA-1' })).pem),
    sni('RSASSA-PSS over SHA-1', (await ca({ spec: RSA_SPECS['RSA-PSS-2048'] as never, hash: 'SHA-1' })).pem),
    sni('secp256k1', await secp256k1Ca()),
    sni('Ed25519', (await ca({ spec: EC_SPECS.Ed25519 as never })).pem),
    sni('expired', (await ca({ validity: 'expired' })).pem),
    sni('not yet valid', (await ca({ validity: 'not-yet-valid' })).pem),
    sni('two unrelated CAs', `${rsa.pem}${ec.pem}`),
    sni('over 65536 characters', `${rsa.pem}${'#'.repeat(66_000)}\n`),
    def('CA and two more certificates', rsa.pem, `${v}${(await verificationOf(rsa, { subject: 'CN=x' })).pem}`),
    def('DEFAULT without verification', rsa.pem),
    def('wrong CN', rsa.pem, (await verificationOf(rsa, { subject: 'CN=device-42' })).pem),
    def('CN truncated', rsa.pem, (await verificationOf(rsa, { subject: `CN=${code.slice(0, 63)}` })).pem),
    def('code in O, not CN', rsa.pem, (await verificationOf(rsa, { subject: `CN=device, O=${code}` })).pem),
    def('verification signed by another key', rsa.pem, (await verificationOf(rsa, { forged: true })).pem),
    def('verification expired', rsa.pem, (await verificationOf(rsa, { validity: 'expired' })).pem),
    def('verification not yet valid', rsa.pem, (await verificationOf(rsa, { validity: 'not-yet-valid' })).pem),
    { ...def('SNI_ONLY with a verification certificate', rsa.pem, v), mode: 'SNI_ONLY' },
    def(
      'verification with the code and a second CN',
      rsa.pem,
      (
        await verificationOf(rsa, {
          subject: [{ CN: [{ printableString: code }] }, { CN: [{ printableString: 'second' }] }],
        })
      ).pem,
    ),
    def('verification that is itself a CA, same file', rsa.pem, (await verificationOf(rsa, { ca: true })).pem),
    def('the CA as its own verification certificate', withCode.pem, withCode.pem, 'sibling'),
    def(
      'CA and verification over 65536 characters together',
      `${rsa.pem}${' '.repeat(40_000)}\n`,
      `${v}${' '.repeat(30_000)}\n`,
    ),
    // Good ones: both must accept.
    def('CRLF line ends', rsa.pem.replace(/\n/g, '\r\n'), v.replace(/\n/g, '\r\n')),
    def('UTF-8 BOM', `\uFEFF${rsa.pem}`, v),
    def('trailing blank lines', `${rsa.pem}\n\n\n`, v),
    def('legacy X509 CERTIFICATE label', pemOf('X509 CERTIFICATE', derOf(rsa.pem)), v),
    def('sibling verification file', rsa.pem, v, 'sibling'),
    sni('P-256', ec.pem),
    sni('P-384', (await ca({ spec: EC_SPECS['P-384'] as never })).pem),
    sni('P-521', (await ca({ spec: EC_SPECS['P-521'] as never })).pem),
    sni('RSASSA-PSS over SHA-256', (await ca({ spec: RSA_SPECS['RSA-PSS-2048'] as never })).pem),
    sni('intermediate CA', (await ca({ issuer: rsa, subject: 'CN=Intermediate' })).pem),
    sni('expiring in 10 days', (await ca({ validity: 'expiring-soon' })).pem),
  ];
};

/** A CA certificate whose key is on secp256k1, a curve WebCrypto cannot make (signed by a P-256 key). */
const secp256k1Ca = async (): Promise<string> => {
  const keys = await poolKey(P256, 'SHA-256');
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: '0bad',
    subject: 'CN=k1',
    issuer: 'CN=k1',
    ...windowOf('valid', NOW),
    publicKey: foreignSpki('secp256k1') as Uint8Array<ArrayBuffer>,
    signingKey: keys.privateKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as Algorithm,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  return certificate.toString('pem');
};

describe('the pre-flight against the emulator', () => {
  let judged: Judged[];
  beforeAll(async () => {
    judged = [];
    for (const submission of await corpus()) judged.push(await judge(submission));
  }, 120_000);

  it('agree on the corpus, or differ only by a listed stricter rule', () => {
    expect(judged.length).toBeGreaterThanOrEqual(45);
    expect(violations(judged)).toEqual([]);
  });

  it('accept every good case of the corpus and refuse the bad ones the pipeline refuses for AWS’s reasons', () => {
    const accepted = judged.filter((j) => j.pipeline.accepted && j.emulator.accepted).map((j) => j.name);
    expect(accepted).toEqual(
      expect.arrayContaining([
        'CRLF line ends',
        'UTF-8 BOM',
        'legacy X509 CERTIFICATE label',
        'P-521',
        'intermediate CA',
      ]),
    );
    const byName = new Map(judged.map((j) => [j.name, j]));
    for (const name of [
      'RSA 2047',
      'SHA-1 signature',
      'secp256k1',
      'Ed25519',
      'expired',
      'leaf certificate',
      'wrong CN',
    ])
      expect([name, byName.get(name)?.emulator.accepted], name).toEqual([name, false]);
  });

  it('exercises every stricter rule the table lists, so none is dead', () => {
    const used = new Set(judged.map((j) => j.outcome).filter((o) => o.startsWith('stricter: ')));
    expect([...used].sort()).toEqual(STRICTER.map((rule) => `stricter: ${rule.error}`).sort());
  });

  it('lists the same stricter rules as docs/aws-iot-rules.md', () => {
    const doc = readFileSync(new URL('../../docs/aws-iot-rules.md', import.meta.url), 'utf8');
    const section = doc.split('## Where the pre-flight is stricter than AWS')[1]?.split('\n## ')[0] ?? '';
    const documented = [...section.matchAll(/^\| `(\w+Error)`/gm)].map((match) => match[1]);
    expect(documented).toEqual(STRICTER.map((rule) => rule.error));
  });

  it('still reproduces each known gap (fix the pre-flight, then remove its entry)', () => {
    for (const gap of KNOWN_GAPS)
      expect(
        judged.some((j) => j.outcome === `known gap: ${gap.finding}`),
        gap.finding,
      ).toBe(true);
  });
});

// ---- Generated certificates ----

const NAMES: Record<string, Name> = {
  ascii: 'CN=Generated CA, O=iot-ca-pipeline tests',
  utf8: 'CN=Générateur ✓ CA, O=Ümlaut GmbH',
  escaped: 'CN=Comma\\, Inc. CA, OU=a+OU=b',
  printable: [{ CN: [{ printableString: 'Printable CA' }] }, { O: [{ printableString: 'Tests' }] }],
  bmp: [{ CN: [{ bmpString: 'BMP CA' }] }],
};
type CnShape = 'code' | 'other' | 'code-in-O' | 'code-bmp' | 'code-utf8' | 'code-and-other-CN';
const verificationName = (shape: CnShape): Name => {
  switch (shape) {
    case 'code':
      return `CN=${code}`;
    case 'other':
      return 'CN=not-the-code';
    case 'code-in-O':
      return `CN=device, O=${code}`;
    case 'code-bmp':
      return [{ CN: [{ bmpString: code }] }];
    case 'code-utf8':
      return [{ CN: [{ utf8String: code }] }];
    case 'code-and-other-CN':
      return [{ CN: [{ printableString: code }] }, { CN: [{ printableString: 'second' }] }];
  }
};

// Weighted toward certificates AWS accepts, so that about one run in fifteen passes every rule.
const generated = fc.record({
  key: fc.constantFrom(...Object.keys(RSA_SPECS), ...Object.keys(EC_SPECS)),
  hash: fc.constantFrom<Hash>(...HASHES),
  validity: fc.constantFrom<Validity>('valid', 'valid', 'valid', 'expired', 'not-yet-valid', 'expiring-soon'),
  caFlag: fc.constantFrom<boolean | null>(true, true, true, false, null),
  name: fc.constantFrom(...Object.keys(NAMES)),
  chain: fc.constantFrom('self-signed', 'self-signed', 'intermediate', 'chain-file'),
  mode: fc.constantFrom<Submission['mode']>('DEFAULT', 'SNI_ONLY'),
  verification: fc.record({
    present: fc.constantFrom(false, false, false, true),
    cn: fc.constantFrom<CnShape>(
      'code',
      'code',
      'code',
      'other',
      'code-in-O',
      'code-bmp',
      'code-utf8',
      'code-and-other-CN',
    ),
    forged: fc.constantFrom(false, false, false, true),
    validity: fc.constantFrom<Validity>('valid', 'valid', 'valid', 'expired', 'not-yet-valid'),
    caFlag: fc.constantFrom<boolean | null>(false, false, null, true),
    placement: fc.constantFrom<Submission['placement']>('same-file', 'sibling'),
  }),
});

describe('generated certificates', () => {
  it('never see the pipeline accept what the emulator refuses; every other difference is a listed rule', async () => {
    const root = await ca({ subject: 'CN=Generated root' });
    const seen: Judged[] = [];
    await fc.assert(
      fc.asyncProperty(generated, async (g) => {
        const spec = (RSA_SPECS[g.key] ?? EC_SPECS[g.key]) as NonNullable<(typeof RSA_SPECS)[string]>;
        const subject = NAMES[g.name] as Name;
        const issued = await issue({
          spec,
          hash: g.hash,
          subject,
          validity: g.validity,
          now: NOW,
          ca: g.caFlag,
          ...(g.chain === 'self-signed' ? {} : { issuer: root }),
        });
        const caText = g.chain === 'chain-file' ? `${issued.pem}${root.pem}` : issued.pem;
        const v = g.verification;
        const verification =
          g.mode === 'DEFAULT' || v.present
            ? (
                await issue({
                  spec: P256,
                  hash: 'SHA-256',
                  subject: verificationName(v.cn),
                  validity: v.validity,
                  now: NOW,
                  ca: v.caFlag,
                  issuer: issued,
                  forged: v.forged,
                })
              ).pem
            : undefined;
        const judged = await judge({
          name: JSON.stringify(g),
          ca: caText,
          ...(verification !== undefined && (g.mode === 'DEFAULT' ? true : v.present) ? { verification } : {}),
          placement: v.placement,
          mode: g.mode,
        });
        seen.push(judged);
        expect(violations([judged])).toEqual([]);
      }),
      { numRuns: Number(process.env.REFEREE_RUNS ?? 100) },
    );
    // The generator reaches both verdicts on both sides, so the property is not vacuous.
    expect(seen.some((j) => j.pipeline.accepted)).toBe(true);
    expect(seen.some((j) => !j.pipeline.accepted && !j.emulator.accepted)).toBe(true);
  }, 60_000);
});
