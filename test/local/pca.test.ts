/**
 * The embedded stack's Private CA on AWS's wire, through @aws-sdk/client-acm-pca: the path AWS
 * takes to make a root CA (Create → GetCsr → IssueCertificate with RootCACertificate/V1 → Import
 * → ACTIVE), a subordinate CA, end-entity certificates from a CSR checked by node:crypto and by
 * `openssl verify`, every named error, IAM, and no key material in the state directory.
 */
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { X509Certificate as NodeCertificate, webcrypto } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  ACMPCAClient,
  type CertificateAuthorityType,
  CreateCertificateAuthorityCommand,
  DescribeCertificateAuthorityCommand,
  GetCertificateAuthorityCertificateCommand,
  GetCertificateAuthorityCsrCommand,
  GetCertificateCommand,
  ImportCertificateAuthorityCertificateCommand,
  IssueCertificateCommand,
  type KeyAlgorithm,
  ListCertificateAuthoritiesCommand,
  type SigningAlgorithm,
  waitUntilCertificateIssued,
} from '@aws-sdk/client-acm-pca';
import * as x509 from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { FRONT_END_ERRORS } from '../../local/json11.ts';
import { OPERATION_ERRORS } from '../../local/pca/operations.ts';
import { sdkModelErrors } from '../fixtures/sdk-model.ts';
import { useLocalStack } from '../fixtures/stack.ts';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const modelErrors = sdkModelErrors('@aws-sdk/client-acm-pca', 'ACMPCAServiceException');

const ROOT = 'arn:aws:acm-pca:::template/RootCACertificate/V1';
const END_ENTITY = 'arn:aws:acm-pca:::template/EndEntityCertificate/V1';
const SUBORDINATE = 'arn:aws:acm-pca:::template/SubordinateCACertificate_PathLen0/V1';
const DAY = 86_400_000;

const failure = async (promise: Promise<unknown>): Promise<{ name: string; status: number; message: string }> => {
  try {
    await promise;
  } catch (error) {
    const e = error as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode ?? 0, message: e.message };
  }
  throw new Error('expected the call to fail');
};

/** A device's key pair and CSR, made here as a device would (not by the emulator). */
const deviceCsr = async (name = 'CN=device-1, O=iot-ca tests') => {
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name,
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
  });
  return { keys, csr, pem: csr.toString('pem') };
};

/** `openssl verify` of a leaf against a CA file (and untrusted intermediates), with PEMs only. */
const opensslVerify = (caPem: string, leafPem: string, intermediatePem?: string): string => {
  const dir = mkdtempSync(join(tmpdir(), 'pca-verify-'));
  try {
    writeFileSync(join(dir, 'ca.pem'), caPem);
    writeFileSync(join(dir, 'leaf.pem'), leafPem);
    const args = ['verify', '-CAfile', join(dir, 'ca.pem')];
    if (intermediatePem) {
      writeFileSync(join(dir, 'intermediate.pem'), intermediatePem);
      args.push('-untrusted', join(dir, 'intermediate.pem'));
    }
    return execFileSync('/usr/bin/openssl', [...args, join(dir, 'leaf.pem')], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

describe("the Private CA emulator's error model", () => {
  it('lists for each operation only errors AWS’s model gives it; front-end errors are in no model', () => {
    const unlisted = Object.entries(OPERATION_ERRORS).flatMap(([operation, errors]) =>
      (errors as readonly string[])
        .filter((name) => !modelErrors(operation).includes(name))
        .map((name) => `${operation}: ${name}`),
    );
    expect(unlisted).toEqual([]);
    expect(modelErrors('GetCertificate')).toContain('RequestInProgressException');
    for (const operation of Object.keys(OPERATION_ERRORS))
      for (const name of FRONT_END_ERRORS) expect(modelErrors(operation), operation).not.toContain(name);
  });
});

describe('Private CA in the embedded stack', () => {
  const fixture = useLocalStack();
  let pca: ACMPCAClient;
  beforeAll(() => {
    pca = new ACMPCAClient({});
  });

  const create = async (
    type: CertificateAuthorityType,
    KeyAlgorithm: KeyAlgorithm = 'EC_prime256v1',
    SigningAlgorithm: SigningAlgorithm = 'SHA256WITHECDSA',
    CommonName = `${type} CA`,
  ) =>
    (
      await pca.send(
        new CreateCertificateAuthorityCommand({
          CertificateAuthorityType: type,
          CertificateAuthorityConfiguration: {
            KeyAlgorithm,
            SigningAlgorithm,
            Subject: { Country: 'DE', Organization: 'iot-ca tests', CommonName },
          },
        }),
      )
    ).CertificateAuthorityArn!;

  /** Issues, waits as the SDK's waiter does, and returns the certificate and its chain. */
  const issue = async (
    arn: string,
    csr: string,
    TemplateArn: string,
    SigningAlgorithm: SigningAlgorithm = 'SHA256WITHECDSA',
    days = 30,
  ) => {
    const { CertificateArn } = await pca.send(
      new IssueCertificateCommand({
        CertificateAuthorityArn: arn,
        Csr: Buffer.from(csr),
        SigningAlgorithm,
        TemplateArn,
        Validity: { Type: 'DAYS', Value: days },
      }),
    );
    await waitUntilCertificateIssued(
      { client: pca, maxWaitTime: 20, minDelay: 1, maxDelay: 1 },
      { CertificateAuthorityArn: arn, CertificateArn },
    );
    return pca.send(new GetCertificateCommand({ CertificateAuthorityArn: arn, CertificateArn }));
  };

  /** AWS's path to a root CA; returns its ARN and its certificate. */
  const activeRoot = async (key?: KeyAlgorithm, signing?: SigningAlgorithm) => {
    const arn = await create('ROOT', key, signing);
    const { Csr } = await pca.send(new GetCertificateAuthorityCsrCommand({ CertificateAuthorityArn: arn }));
    const { Certificate } = await issue(arn, Csr!, ROOT, signing, 3650);
    await pca.send(
      new ImportCertificateAuthorityCertificateCommand({
        CertificateAuthorityArn: arn,
        Certificate: Buffer.from(Certificate!),
      }),
    );
    return { arn, pem: Certificate! };
  };

  it('is reached through AWS_ENDPOINT_URL_ACM_PCA, which stack.json advertises', () => {
    expect(process.env.AWS_ENDPOINT_URL_ACM_PCA).toBe(fixture.stack.endpoints.pca);
    expect(fixture.stack.info().endpoints.pca).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it.each([
    ['EC_prime256v1', 'SHA256WITHECDSA'],
    ['EC_secp384r1', 'SHA384WITHECDSA'],
    ['RSA_2048', 'SHA256WITHRSA'],
    ['RSA_4096', 'SHA512WITHRSA'],
  ] as const)('%s: makes a root CA the way AWS does, PENDING_CERTIFICATE to ACTIVE', async (key, signing) => {
    const arn = await create('ROOT', key, signing, `Root ${key}`);
    expect(arn).toMatch(/^arn:aws:acm-pca:us-east-1:000000000000:certificate-authority\/[0-9a-f-]{36}$/);
    const status = async () =>
      (await pca.send(new DescribeCertificateAuthorityCommand({ CertificateAuthorityArn: arn }))).CertificateAuthority;
    expect(await status()).toMatchObject({ Status: 'PENDING_CERTIFICATE', Type: 'ROOT' });
    const { Csr } = await pca.send(new GetCertificateAuthorityCsrCommand({ CertificateAuthorityArn: arn }));
    const csr = new x509.Pkcs10CertificateRequest(Csr!);
    expect(await csr.verify()).toBe(true);
    expect(csr.subject).toBe(`C=DE, O=iot-ca tests, CN=Root ${key}`);
    const { CertificateArn } = await pca.send(
      new IssueCertificateCommand({
        CertificateAuthorityArn: arn,
        Csr: Buffer.from(Csr!),
        SigningAlgorithm: signing,
        TemplateArn: ROOT,
        Validity: { Type: 'YEARS', Value: 10 },
      }),
    );
    expect(CertificateArn).toMatch(new RegExp(`^${arn}/certificate/[0-9a-f]+$`));
    // Issuance is asynchronous on AWS: the first read says so, and callers wait as the waiter does.
    expect(
      await failure(pca.send(new GetCertificateCommand({ CertificateAuthorityArn: arn, CertificateArn }))),
    ).toMatchObject({ name: 'RequestInProgressException', status: 400 });
    const { Certificate } = await pca.send(new GetCertificateCommand({ CertificateAuthorityArn: arn, CertificateArn }));
    const certificate = new NodeCertificate(Certificate!);
    expect(certificate.verify(certificate.publicKey)).toBe(true);
    expect(certificate.checkIssued(certificate)).toBe(true);
    expect(certificate.ca).toBe(true);
    expect(certificate.publicKey.export({ type: 'spki', format: 'der' })).toEqual(Buffer.from(csr.publicKey.rawData));
    const parsed = new x509.X509Certificate(Certificate!);
    expect(parsed.getExtension(x509.BasicConstraintsExtension)).toMatchObject({ ca: true, critical: true });
    const usages = parsed.getExtension(x509.KeyUsagesExtension);
    expect(usages?.critical).toBe(true);
    expect(usages?.usages).toBe(
      x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
    );
    expect(parsed.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(
      parsed.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId,
    );
    const years = (Date.parse(certificate.validTo) - Date.now()) / (365.25 * DAY);
    expect(years).toBeGreaterThan(9.9);
    expect(years).toBeLessThan(10.1);
    await pca.send(
      new ImportCertificateAuthorityCertificateCommand({
        CertificateAuthorityArn: arn,
        Certificate: Buffer.from(Certificate!),
      }),
    );
    expect(await status()).toMatchObject({ Status: 'ACTIVE', Serial: parsed.serialNumber });
    const fetched = await pca.send(new GetCertificateAuthorityCertificateCommand({ CertificateAuthorityArn: arn }));
    expect(fetched.Certificate).toBe(Certificate);
  });

  it('issues an end-entity certificate from a CSR that node:crypto and openssl verify against the CA', async () => {
    const root = await activeRoot();
    const device = await deviceCsr();
    const { Certificate, CertificateChain } = await issue(root.arn, device.pem, END_ENTITY, 'SHA256WITHECDSA', 7);
    expect(CertificateChain).toBe(root.pem);
    const leaf = new NodeCertificate(Certificate!);
    const ca = new NodeCertificate(root.pem);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.subject).toBe('CN=device-1\nO=iot-ca tests');
    expect(leaf.publicKey.export({ type: 'spki', format: 'der' })).toEqual(Buffer.from(device.csr.publicKey.rawData));
    expect(opensslVerify(root.pem, Certificate!)).toMatch(/leaf\.pem: OK/);
    // The template's extensions: CA:FALSE, digitalSignature + keyEncipherment, TLS server and client.
    const parsed = new x509.X509Certificate(Certificate!);
    expect(parsed.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    expect(parsed.getExtension(x509.KeyUsagesExtension)?.usages).toBe(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
    );
    expect(parsed.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([
      x509.ExtendedKeyUsage.serverAuth,
      x509.ExtendedKeyUsage.clientAuth,
    ]);
    expect(parsed.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(
      new x509.X509Certificate(root.pem).getExtension(x509.SubjectKeyIdentifierExtension)?.keyId,
    );
    // Seven days from an hour ago: AWS backdates notBefore by an hour against clock skew.
    expect(Date.now() - Date.parse(leaf.validFrom)).toBeGreaterThan(59 * 60_000);
    expect(Math.round((Date.parse(leaf.validTo) - Date.now()) / DAY)).toBe(7);
  });

  it('makes a subordinate CA from a root, and its certificates verify through the chain', async () => {
    const root = await activeRoot('RSA_2048', 'SHA256WITHRSA');
    const sub = await create('SUBORDINATE', 'EC_secp384r1', 'SHA384WITHECDSA', 'Issuing CA');
    const { Csr } = await pca.send(new GetCertificateAuthorityCsrCommand({ CertificateAuthorityArn: sub }));
    const { Certificate: subPem } = await issue(root.arn, Csr!, SUBORDINATE, 'SHA256WITHRSA', 365);
    expect(
      await failure(
        pca.send(
          new ImportCertificateAuthorityCertificateCommand({
            CertificateAuthorityArn: sub,
            Certificate: Buffer.from(subPem!),
          }),
        ),
      ),
    ).toMatchObject({ name: 'InvalidRequestException', message: expect.stringMatching(/chain/) });
    await pca.send(
      new ImportCertificateAuthorityCertificateCommand({
        CertificateAuthorityArn: sub,
        Certificate: Buffer.from(subPem!),
        CertificateChain: Buffer.from(root.pem),
      }),
    );
    const device = await deviceCsr('CN=device-2');
    const { Certificate, CertificateChain } = await issue(sub, device.pem, END_ENTITY, 'SHA384WITHECDSA');
    expect(CertificateChain).toContain(subPem!.trim());
    expect(CertificateChain).toContain(root.pem.trim());
    expect(new x509.X509Certificate(subPem!).getExtension(x509.BasicConstraintsExtension)?.pathLength).toBe(0);
    expect(opensslVerify(root.pem, Certificate!, subPem!)).toMatch(/leaf\.pem: OK/);
    expect(() => opensslVerify(root.pem, Certificate!)).toThrow();
  });

  it('answers each named error', async () => {
    const pending = await create('ROOT');
    const root = await activeRoot();
    const other = await activeRoot();
    const device = await deviceCsr();
    const missing = 'arn:aws:acm-pca:us-east-1:000000000000:certificate-authority/00000000-0000-0000-0000-000000000000';
    const issueFrom = (arn: string, Csr: Uint8Array, TemplateArn = END_ENTITY, SigningAlgorithm = 'SHA256WITHECDSA') =>
      pca.send(
        new IssueCertificateCommand({
          CertificateAuthorityArn: arn,
          Csr,
          SigningAlgorithm: SigningAlgorithm as SigningAlgorithm,
          TemplateArn,
          Validity: { Type: 'DAYS', Value: 1 },
        }),
      );
    // The CSR with its subject changed after signing: its own signature no longer verifies.
    const der = Buffer.from(device.csr.rawData);
    der.write('device-9', der.indexOf('device-1'));
    const tampered = Buffer.from(new x509.Pkcs10CertificateRequest(der).toString('pem'));
    // A certificate for the pending CA's own key, signed by another CA: not self-signed.
    const { Csr: pendingCsr } = await pca.send(
      new GetCertificateAuthorityCsrCommand({ CertificateAuthorityArn: pending }),
    );
    const { Certificate: crossSigned } = await issue(other.arn, pendingCsr!, SUBORDINATE);
    const cases: Array<[string, () => Promise<unknown>, string, RegExp]> = [
      [
        'a malformed ARN',
        () => pca.send(new DescribeCertificateAuthorityCommand({ CertificateAuthorityArn: 'arn:nope' })),
        'InvalidArnException',
        /not valid/,
      ],
      [
        'an unknown CA',
        () => pca.send(new DescribeCertificateAuthorityCommand({ CertificateAuthorityArn: missing })),
        'ResourceNotFoundException',
        /Could not find/,
      ],
      [
        'issuing from a pending CA',
        () => issueFrom(pending, Buffer.from(device.pem)),
        'InvalidStateException',
        /PENDING_CERTIFICATE/,
      ],
      [
        'the certificate of a pending CA',
        () => pca.send(new GetCertificateAuthorityCertificateCommand({ CertificateAuthorityArn: pending })),
        'InvalidStateException',
        /no certificate yet/,
      ],
      [
        'a CSR that is not one',
        () => issueFrom(root.arn, Buffer.from('not a csr')),
        'MalformedCSRException',
        /PKCS #10/,
      ],
      ['a CSR whose signature fails', () => issueFrom(root.arn, tampered), 'MalformedCSRException', /does not verify/],
      [
        'RSA signing by an EC CA',
        () => issueFrom(root.arn, Buffer.from(device.pem), END_ENTITY, 'SHA256WITHRSA'),
        'InvalidArgsException',
        /cannot be used/,
      ],
      [
        'an unknown template',
        () => issueFrom(root.arn, Buffer.from(device.pem), 'arn:aws:acm-pca:::template/CodeSigningCertificate/V1'),
        'InvalidArgsException',
        /serves the templates/,
      ],
      [
        'the root template on a CSR of another key',
        () => issueFrom(root.arn, Buffer.from(device.pem), ROOT),
        'InvalidArgsException',
        /own CSR/,
      ],
      [
        'RSA signing for an EC key at creation',
        () =>
          pca.send(
            new CreateCertificateAuthorityCommand({
              CertificateAuthorityType: 'ROOT',
              CertificateAuthorityConfiguration: {
                KeyAlgorithm: 'EC_prime256v1',
                SigningAlgorithm: 'SHA256WITHRSA',
                Subject: { CommonName: 'x' },
              },
            }),
          ),
        'InvalidArgsException',
        /cannot be used with KeyAlgorithm/,
      ],
      [
        "another CA's certificate imported",
        () =>
          pca.send(
            new ImportCertificateAuthorityCertificateCommand({
              CertificateAuthorityArn: pending,
              Certificate: Buffer.from(other.pem),
            }),
          ),
        'CertificateMismatchException',
        /public key is not this CA's/,
      ],
      [
        'a certificate that is not PEM',
        () =>
          pca.send(
            new ImportCertificateAuthorityCertificateCommand({
              CertificateAuthorityArn: pending,
              Certificate: Buffer.from('junk'),
            }),
          ),
        'MalformedCertificateException',
        /not a PEM/,
      ],
      [
        "a ROOT CA's certificate signed by another CA",
        () =>
          pca.send(
            new ImportCertificateAuthorityCertificateCommand({
              CertificateAuthorityArn: pending,
              Certificate: Buffer.from(crossSigned!),
            }),
          ),
        'InvalidRequestException',
        /self-signed/,
      ],
      [
        'a certificate of another CA',
        () =>
          pca.send(
            new GetCertificateCommand({
              CertificateAuthorityArn: root.arn,
              CertificateArn: `${other.arn}/certificate/ab`,
            }),
          ),
        'InvalidArnException',
        /not a certificate of/,
      ],
      [
        'an unknown certificate',
        () =>
          pca.send(
            new GetCertificateCommand({
              CertificateAuthorityArn: root.arn,
              CertificateArn: `${root.arn}/certificate/ab`,
            }),
          ),
        'ResourceNotFoundException',
        /Could not find certificate/,
      ],
      [
        'a key algorithm outside the enum',
        () =>
          pca.send(
            new CreateCertificateAuthorityCommand({
              CertificateAuthorityType: 'ROOT',
              CertificateAuthorityConfiguration: {
                KeyAlgorithm: 'SM2' as KeyAlgorithm,
                SigningAlgorithm: 'SHA256WITHECDSA',
                Subject: { CommonName: 'x' },
              },
            }),
          ),
        'ValidationException',
        /enum value set/,
      ],
    ];
    for (const [what, call, name, message] of cases) {
      const error = await failure(call()).catch((thrown: Error) => {
        throw new Error(`${what}: ${thrown.message}`);
      });
      expect(error.name, what).toBe(name);
      expect(error.message, what).toMatch(message);
      expect(error.status, what).toBe(400);
    }
    // None of the refused calls changed the pending CA.
    expect(
      (await pca.send(new DescribeCertificateAuthorityCommand({ CertificateAuthorityArn: pending })))
        .CertificateAuthority?.Status,
    ).toBe('PENDING_CERTIFICATE');
  });

  it('authorizes each call on the authority, with the template as a condition key', async () => {
    const allowed = await activeRoot();
    const other = await activeRoot();
    const client = new ACMPCAClient({
      credentials: fixture.stack.iam.guard.issue({
        roleArn: 'arn:aws:iam::000000000000:role/SignerRole',
        sessionName: 'signer',
        policies: [
          {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: ['acm-pca:IssueCertificate'],
                Resource: allowed.arn,
                Condition: { StringEquals: { 'acm-pca:TemplateArn': END_ENTITY } },
              },
              { Effect: 'Allow', Action: ['acm-pca:GetCertificate'], Resource: allowed.arn },
            ],
          },
        ] as never,
      }),
    });
    const device = await deviceCsr();
    const issueFrom = (arn: string, TemplateArn = END_ENTITY) =>
      client.send(
        new IssueCertificateCommand({
          CertificateAuthorityArn: arn,
          Csr: Buffer.from(device.pem),
          SigningAlgorithm: 'SHA256WITHECDSA',
          TemplateArn,
          Validity: { Type: 'DAYS', Value: 1 },
        }),
      );
    const { CertificateArn } = await issueFrom(allowed.arn);
    await waitUntilCertificateIssued(
      { client, maxWaitTime: 20, minDelay: 1, maxDelay: 1 },
      { CertificateAuthorityArn: allowed.arn, CertificateArn },
    );
    const denied = await failure(issueFrom(other.arn));
    expect(denied).toMatchObject({ name: 'AccessDeniedException', status: 400 });
    expect(denied.message).toContain(`acm-pca:IssueCertificate on resource: ${other.arn}`);
    expect(await failure(issueFrom(allowed.arn, SUBORDINATE))).toMatchObject({ name: 'AccessDeniedException' });
    expect(
      await failure(
        client.send(new GetCertificateAuthorityCertificateCommand({ CertificateAuthorityArn: allowed.arn })),
      ),
    ).toMatchObject({ name: 'AccessDeniedException' });
    expect(await failure(client.send(new ListCertificateAuthoritiesCommand({})))).toMatchObject({
      name: 'AccessDeniedException',
    });
    client.destroy();
  });

  it('writes nothing of its CAs to the state directory', async () => {
    const root = await activeRoot();
    await fixture.settle();
    const files = readdirSync(fixture.stateDir, { withFileTypes: true, recursive: true })
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name));
    expect(files.length).toBeGreaterThan(0);
    const body = root.pem.split('\n')[3] as string;
    const needles = [root.arn.split('/')[1] as string, body];
    expect(body.length).toBeGreaterThan(40);
    for (const file of files) {
      const content = readFileSync(file, 'utf8');
      for (const needle of needles) expect(content.includes(needle), file).toBe(false);
    }
    const withPrivateKeys = files.filter((file) => readFileSync(file, 'utf8').includes('PRIVATE KEY'));
    expect(withPrivateKeys.map((file) => relative(fixture.stateDir, file))).toEqual([join('mqtt', 'server.key')]);
  });
});
