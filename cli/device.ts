/**
 * The device smoke test: a device key and certificate made here and signed by the CA (the key
 * never leaves this machine), then a device's first connections as JITP sees them — the first one
 * closed while the certificate is provisioned, a reconnect with backoff — and one message
 * published and received on a topic the device's policy allows.
 */
import 'reflect-metadata';
import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import mqtt from 'mqtt';
import { CliError } from './output.ts';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

/** Where devices connect: the local broker, or the account's `iot:Data-ATS` endpoint on 8883. */
export interface DeviceEndpoint {
  url: string;
  servername: string;
  /** The endpoint's CA (PEM) for the local broker; on AWS the system's roots (Amazon Root CA 1). */
  ca?: string;
}

export interface Device {
  thingName: string;
  keyPem: string;
  certificatePem: string;
  /** The device certificate followed by its CA's: what a JITP device presents. */
  chainPem: string;
  certificateId: string;
}

interface SigningCa {
  certificate: x509.X509Certificate;
  privateKey: CryptoKey;
  algorithm: Algorithm | EcdsaParams;
}

const DAY = 86_400_000;

/** The CA certificate and its key (PKCS#8, PKCS#1 or SEC1 PEM), checked to belong together. */
export const loadSigningCa = async (caPem: string, keyPem: string): Promise<SigningCa> => {
  const certificate = new x509.X509Certificate(caPem);
  let pkcs8: Buffer;
  let type: string | undefined;
  try {
    const key = createPrivateKey(keyPem);
    type = key.asymmetricKeyType;
    pkcs8 = key.export({ format: 'der', type: 'pkcs8' });
  } catch {
    // Never echo the file: it holds a private key.
    throw new CliError('CaKeyUnreadableError', 'The --ca-key file is not an unencrypted PEM private key.');
  }
  const publicKey = certificate.publicKey.algorithm as EcKeyAlgorithm & RsaHashedKeyAlgorithm;
  const algorithm =
    type === 'ec'
      ? { name: 'ECDSA', namedCurve: publicKey.namedCurve }
      : type === 'rsa'
        ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
        : undefined;
  if (!algorithm)
    throw new CliError(
      'CaKeyUnsupportedError',
      `A ${type} CA key cannot sign device certificates here: use RSA or EC.`,
    );
  const privateKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, algorithm, false, ['sign']);
  const signing = type === 'ec' ? { name: 'ECDSA', hash: 'SHA-256' } : algorithm;
  // Sign and verify a probe: a key that is not the CA's would make devices JITP never accepts.
  const probe = Buffer.from('iot-ca key check');
  const signature = await webcrypto.subtle.sign(signing as EcdsaParams, privateKey, probe);
  const verifyKey = await certificate.publicKey.export(algorithm as EcKeyImportParams, ['verify']);
  if (!(await webcrypto.subtle.verify(signing as EcdsaParams, verifyKey, signature, probe)))
    throw new CliError('CaKeyMismatchError', 'The --ca-key does not belong to the --ca certificate.');
  return { certificate, privateKey, algorithm: signing };
};

/** A CA whose key is already in memory (the demo's): signs with the key's own algorithm. */
export const signingCa = (certificate: x509.X509Certificate, privateKey: CryptoKey): SigningCa => ({
  certificate,
  privateKey,
  algorithm: privateKey.algorithm.name === 'ECDSA' ? { name: 'ECDSA', hash: 'SHA-256' } : privateKey.algorithm,
});

/** A device certificate's validity, whoever signs it (makeDevice, device connect --signer). */
export const DEVICE_VALIDITY_DAYS = 365;
/** Backdated for clock skew between this machine and the endpoint. */
const DEVICE_BACKDATE_MS = 5 * 60_000;
export const deviceValidity = (now = Date.now()): { notBefore: Date; notAfter: Date } => ({
  notBefore: new Date(now - DEVICE_BACKDATE_MS),
  notAfter: new Date(now + DEVICE_VALIDITY_DAYS * DAY),
});

/** A device's own key pair: EC P-256, made here; its private key is written only to the device's folder. */
export const newDeviceKeys = async (): Promise<CryptoKeyPair> =>
  (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;

/** The device as the smoke test uses it, from its key pair and its certificate (PEM) issued by the CA. */
export const deviceOf = async (
  thingName: string,
  keys: CryptoKeyPair,
  certificatePem: string,
  caPem: string,
): Promise<Device> => {
  const certificate = new x509.X509Certificate(certificatePem);
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.replace(/.{64}/g, '$&\n')}\n-----END PRIVATE KEY-----\n`;
  const pem = certificate.toString('pem');
  return {
    thingName,
    keyPem: keyPem.replace(/\n\n/g, '\n'),
    certificatePem: pem,
    chainPem: `${pem}\n${new x509.X509Certificate(caPem).toString('pem')}\n`,
    certificateId: Buffer.from(await certificate.getThumbprint('SHA-256')).toString('hex'),
  };
};

/** A new device: an EC P-256 key and a certificate with subject `CN=<thingName>` signed by the CA. */
export const makeDevice = async (ca: SigningCa, thingName: string): Promise<Device> => {
  const keys = await newDeviceKeys();
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(16)
      .toString('hex')
      .replace(/^[89a-f]/, '1'),
    subject: `CN=${thingName}`,
    issuer: ca.certificate.subject,
    ...deviceValidity(),
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: ca.algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
    ],
  });
  return deviceOf(thingName, keys, certificate.toString('pem'), ca.certificate.toString('pem'));
};

export interface SmokeStep {
  step: string;
  ms: number;
  ok: boolean;
  detail?: string;
}

export interface SmokeOptions {
  /** Give up after this long (default 60 s). */
  timeoutMs?: number;
  /**
   * The first pause between attempts; doubled each time up to 8× (default 1 s), each pause drawn
   * at random between half its bound and the bound ("equal jitter", as AWS's backoff guidance
   * describes), so that a fleet reconnecting after JITP spreads out under the provisioning quota.
   */
  backoffMs?: number;
  onStep?: (step: SmokeStep) => void;
}

export interface SmokeResult {
  connected: boolean;
  attempts: number;
  steps: SmokeStep[];
  topic: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One MQTT connection attempt: the client, or why the endpoint closed or refused it. */
const connectOnce = (endpoint: DeviceEndpoint, device: Device, timeoutMs: number) =>
  new Promise<{ client?: mqtt.MqttClient; reason?: string }>((resolve) => {
    const client = mqtt.connect(endpoint.url, {
      clientId: device.thingName,
      key: device.keyPem,
      cert: device.chainPem,
      ...(endpoint.ca ? { ca: endpoint.ca } : {}),
      servername: endpoint.servername,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: timeoutMs,
      clean: true,
    });
    const fail = (reason: string) => {
      client.end(true);
      resolve({ reason });
    };
    client.once('connect', () => {
      // JITP closes the first connection right after the handshake: connected means still open shortly after.
      setTimeout(() => (client.connected ? resolve({ client }) : fail('closed by the endpoint')), 250);
    });
    client.once('error', (error) => fail(error.message));
    client.once('close', () => fail('closed by the endpoint'));
  });

/**
 * Connects as the device until the endpoint keeps the connection (JITP closes the first one),
 * then subscribes to `devices/<thing>/smoke`, publishes there and waits for the message.
 */
export const smokeTest = async (
  endpoint: DeviceEndpoint,
  device: Device,
  options: SmokeOptions = {},
): Promise<SmokeResult> => {
  const steps: SmokeStep[] = [];
  const record = (step: SmokeStep) => {
    steps.push(step);
    options.onStep?.(step);
  };
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const topic = `devices/${device.thingName}/smoke`;
  let pause = options.backoffMs ?? 1_000;
  let attempts = 0;
  let client: mqtt.MqttClient | undefined;
  while (!client && Date.now() < deadline) {
    attempts++;
    const started = Date.now();
    const outcome = await connectOnce(endpoint, device, Math.max(1_000, Math.min(10_000, deadline - Date.now())));
    client = outcome.client;
    record({
      step: `connect #${attempts}`,
      ms: Date.now() - started,
      ok: Boolean(client),
      ...(outcome.reason ? { detail: outcome.reason } : {}),
    });
    if (!client) {
      await sleep(Math.min(pause / 2 + Math.random() * (pause / 2), Math.max(0, deadline - Date.now())));
      pause = Math.min(pause * 2, (options.backoffMs ?? 1_000) * 8);
    }
  }
  if (!client) return { connected: false, attempts, steps, topic };
  try {
    const connected = client;
    const started = Date.now();
    const granted = await connected.subscribeAsync(topic, { qos: 1 });
    // A subscription the policy refuses is granted QoS 128 (failure) in the SUBACK.
    if (granted.some((grant) => grant.qos === 128)) {
      record({ step: `subscribe ${topic}`, ms: Date.now() - started, ok: false, detail: 'refused by the policy' });
      return { connected: false, attempts, steps, topic };
    }
    record({ step: `subscribe ${topic}`, ms: Date.now() - started, ok: true });
    const message = `iot-ca smoke test ${new Date().toISOString()}`;
    const received = new Promise<boolean>((resolve) => {
      connected.on('message', (name, payload) => name === topic && payload.toString() === message && resolve(true));
      connected.once('close', () => resolve(false));
      // Unref'd: a message that came back must not leave the process waiting for the deadline.
      setTimeout(() => resolve(false), Math.max(1_000, deadline - Date.now())).unref();
    });
    const sent = Date.now();
    await connected.publishAsync(topic, message, { qos: 1 });
    record({ step: `publish ${topic}`, ms: Date.now() - sent, ok: true });
    const ok = await received;
    record({ step: 'receive', ms: Date.now() - sent, ok, ...(ok ? {} : { detail: 'the message did not come back' }) });
    return { connected: ok && connected.connected, attempts, steps, topic };
  } catch (error) {
    record({ step: 'publish/subscribe', ms: 0, ok: false, detail: (error as Error).message });
    return { connected: false, attempts, steps, topic };
  } finally {
    await client.endAsync(true).catch(() => undefined);
  }
};
