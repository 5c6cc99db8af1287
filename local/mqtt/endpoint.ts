/**
 * The local data endpoint's TLS identity: an endpoint CA that devices trust (as devices trust
 * Amazon's root CA) and a server certificate it issued for the account's `iot:Data-ATS` name, made
 * once per state directory and kept under `<stateDir>/mqtt/`. The CA's private key is used once and
 * never stored: nothing can issue another certificate under it.
 */
import 'reflect-metadata';
import { createPrivateKey, webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { writeFileAtomic } from '../iot/store.ts';

const crypto = webcrypto as unknown as Crypto;
x509.cryptoProvider.set(crypto);

export interface EndpointIdentity {
  /** The name devices send as SNI and check the server certificate against. */
  servername: string;
  /** The endpoint CA (PEM), which devices trust. */
  caFile: string;
  ca: string;
  cert: string;
  key: string;
}

const ECDSA = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY = 86_400_000;
const YEARS_10 = 3650 * DAY;

const pemKey = async (key: CryptoKey): Promise<string> =>
  createPrivateKey({ key: Buffer.from(await crypto.subtle.exportKey('pkcs8', key)), format: 'der', type: 'pkcs8' })
    .export({ format: 'pem', type: 'pkcs8' })
    .toString();

const issue = async (servername: string): Promise<Omit<EndpointIdentity, 'caFile'>> => {
  const generate = () => crypto.subtle.generateKey(ECDSA, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
  const [caKeys, serverKeys] = await Promise.all([generate(), generate()]);
  const notBefore = new Date(Date.now() - DAY);
  const notAfter = new Date(Date.now() + YEARS_10);
  const caName = 'CN=iot-ca-pipeline local endpoint CA, O=iot-ca-pipeline (local)';
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: caName,
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: ECDSA,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const server = await x509.X509CertificateGenerator.create({
    serialNumber: '02',
    subject: `CN=${servername}`,
    issuer: caName,
    notBefore,
    notAfter,
    publicKey: serverKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: ECDSA,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: servername }]),
    ],
  });
  return { servername, ca: ca.toString('pem'), cert: server.toString('pem'), key: await pemKey(serverKeys.privateKey) };
};

/** The endpoint's identity for `servername`, made on first use (or when the name changed) and kept. */
export const endpointIdentity = async (stateDir: string, servername: string): Promise<EndpointIdentity> => {
  const dir = join(stateDir, 'mqtt');
  mkdirSync(dir, { recursive: true });
  const paths = {
    meta: join(dir, 'endpoint.json'),
    ca: join(dir, 'endpoint-ca.pem'),
    cert: join(dir, 'server.pem'),
    key: join(dir, 'server.key'),
  };
  const kept = existsSync(paths.meta)
    ? (JSON.parse(readFileSync(paths.meta, 'utf8')) as { servername?: string }).servername
    : undefined;
  if (kept === servername && existsSync(paths.ca) && existsSync(paths.cert) && existsSync(paths.key)) {
    return {
      servername,
      caFile: paths.ca,
      ca: readFileSync(paths.ca, 'utf8'),
      cert: readFileSync(paths.cert, 'utf8'),
      key: readFileSync(paths.key, 'utf8'),
    };
  }
  const identity = await issue(servername);
  await Promise.all([
    writeFileAtomic(paths.ca, identity.ca),
    writeFileAtomic(paths.cert, identity.cert),
    writeFileAtomic(paths.key, identity.key),
  ]);
  await writeFileAtomic(paths.meta, JSON.stringify({ servername }));
  return { ...identity, caFile: paths.ca };
};
