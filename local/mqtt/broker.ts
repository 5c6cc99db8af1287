/**
 * The local data plane: an MQTT broker (aedes) behind TLS on 127.0.0.1, answering for the account's
 * `iot:Data-ATS` endpoint as AWS IoT Core does (docs/aws-iot-rules.md, "Data plane"). A device
 * must send SNI naming the endpoint and present a client certificate; the certificate is judged
 * by the emulator's registry (known and ACTIVE: in; unknown: JITP, then the connection is closed),
 * and every CONNECT, PUBLISH, SUBSCRIBE and delivery by the IoT policies attached to it. An
 * unauthorized PUBLISH disconnects the client; an unauthorized SUBSCRIBE is answered 0x80.
 */
import type { Socket } from 'node:net';
import { createSecureContext, createServer, type Server, type TLSSocket } from 'node:tls';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { IotEmulator, IotEvent } from '../iot/emulator.ts';
import { ConnectionPolicy } from './authorize.ts';
import { endpointIdentity } from './endpoint.ts';

/** Where devices connect: what `iot-ca` and the tests hand to an MQTT client. */
export interface MqttEndpoint {
  /** `mqtts://127.0.0.1:<port>`. */
  url: string;
  /** The SNI to send and the name the server certificate carries (DescribeEndpoint `iot:Data-ATS`). */
  servername: string;
  /** The endpoint CA devices trust (PEM file). */
  caFile: string;
}

export interface BrokerOptions {
  stateDir: string;
  /** The emulator as it is now (the stack restarts it). */
  emulator: () => IotEmulator;
  port?: number;
  /** Everything the data plane does: the emulator's registry events and the broker's own. */
  onEvent?: (event: IotEvent) => void;
}

/** Topics only AWS IoT publishes to. */
const RESERVED_FOR_SERVICE = /^\$aws\/events\//;

const notAuthorized = (message: string): AuthenticateError =>
  Object.assign(new Error(message), { returnCode: 5 }) as AuthenticateError;

export class MqttBroker {
  private readonly certificates = new WeakMap<object, ReturnType<IotEmulator['devices']['connect']>>();
  private readonly sessions = new WeakMap<Client, ConnectionPolicy>();
  private readonly sockets = new Set<TLSSocket>();

  private constructor(
    private readonly options: BrokerOptions,
    private readonly aedes: Aedes,
    private readonly server: Server,
    readonly endpoint: MqttEndpoint,
  ) {}

  static async start(options: BrokerOptions): Promise<MqttBroker> {
    const emulator = options.emulator();
    const servername = emulator.devices.describeEndpoint({ endpointType: 'iot:Data-ATS' }).endpointAddress;
    await emulator.flush();
    const identity = await endpointIdentity(options.stateDir, servername);
    const context = createSecureContext({ key: identity.key, cert: identity.cert });
    let self: MqttBroker | undefined;
    const aedes = await Aedes.createBroker({
      authenticate: (client, _username, _password, done) => self?.authenticate(client, done),
      authorizePublish: (client, packet, done) => self?.authorizePublish(client, packet.topic, done),
      authorizeSubscribe: (client, subscription, done) =>
        done(null, self?.authorize(client, 'iot:Subscribe', subscription.topic) ? subscription : null),
      authorizeForward: (client, packet) => (self?.authorize(client, 'iot:Receive', packet.topic) ? packet : null),
    });
    const server = createServer({
      key: identity.key,
      cert: identity.cert,
      requestCert: true,
      // The client certificate is judged by the registry, not by a trust store (registered CAs change).
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      SNICallback: (name, callback) =>
        name === servername ? callback(null, context) : callback(new Error(`unknown endpoint ${name}`)),
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    const port = (server.address() as { port: number }).port;
    self = new MqttBroker(options, aedes, server, {
      url: `mqtts://127.0.0.1:${port}`,
      servername,
      caFile: identity.caFile,
    });
    const broker = self;
    server.on('secureConnection', (socket) => void broker.accept(socket));
    server.on('tlsClientError', () => undefined);
    return broker;
  }

  /** The emulator's events: registrations are published on MQTT, as AWS does; all are passed on. */
  readonly handleEvent = (event: IotEvent): void => {
    if (event.type === 'CertificateRegistered' && event.topic) {
      const payload = Buffer.from(JSON.stringify(event.payload));
      this.aedes.publish({ cmd: 'publish', topic: event.topic, payload, qos: 1, retain: false, dup: false }, () => {});
    }
    this.options.onEvent?.(event);
  };

  private emit(event: Omit<IotEvent, 'time'>): void {
    this.options.onEvent?.({ time: new Date().toISOString(), ...event });
  }

  private async accept(socket: TLSSocket): Promise<void> {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    if (!socket.servername) {
      this.emit({ type: 'Connect.AuthError', message: 'refused: the ClientHello sent no SNI (server name)' });
      socket.destroy();
      return;
    }
    const peer = socket.getPeerX509Certificate();
    if (!peer) {
      this.emit({ type: 'Connect.AuthError', message: 'refused: no client certificate' });
      socket.destroy();
      return;
    }
    const emulator = this.options.emulator();
    try {
      // Answered once what JITP wrote is on disk, as the control plane answers.
      const decision = await emulator.durably(() => emulator.devices.connect(peer.raw));
      if (decision.outcome !== 'accepted' || socket.destroyed) {
        socket.destroy();
        return;
      }
      this.certificates.set(socket, decision);
      this.aedes.handle(socket as Socket);
    } catch (error) {
      this.emit({ type: 'Connect.AuthError', message: `refused: ${(error as Error).message}` });
      socket.destroy();
    }
  }

  private authenticate(client: Client, done: (error: AuthenticateError | null, success: boolean | null) => void): void {
    const decision = this.certificates.get(client.conn);
    if (decision?.outcome !== 'accepted') {
      done(notAuthorized('no accepted certificate'), false);
      return;
    }
    const emulator = this.options.emulator();
    const policy = new ConnectionPolicy(
      () => this.options.emulator().devices,
      { region: emulator.region, account: emulator.account },
      decision.certificate,
      client.id,
    );
    const ids = { certificateId: decision.certificate.certificateId, clientId: client.id };
    if (!policy.allows('iot:Connect', client.id)) {
      this.emit({ type: 'Connect.AuthError', message: `CONNECT as ${client.id} not authorized by policy`, ...ids });
      done(notAuthorized('not authorized'), false);
      return;
    }
    this.sessions.set(client, policy);
    const thingName = policy.thingName;
    this.emit({
      type: 'Connect.Success',
      message: `${client.id} connected`,
      ...ids,
      ...(thingName ? { thingName } : {}),
    });
    done(null, true);
  }

  private authorize(client: Client | null, action: 'iot:Subscribe' | 'iot:Receive', topic: string): boolean {
    if (!client) return true;
    const allowed = this.sessions.get(client)?.allows(action, topic) ?? false;
    if (!allowed && action === 'iot:Subscribe')
      this.emit({
        type: 'Subscribe.AuthError',
        message: `SUBSCRIBE ${topic} by ${client.id} not authorized`,
        clientId: client.id,
      });
    return allowed;
  }

  private authorizePublish(client: Client | null, topic: string, done: (error?: Error | null) => void): void {
    if (!client) {
      done(null);
      return;
    }
    const allowed =
      !RESERVED_FOR_SERVICE.test(topic) && (this.sessions.get(client)?.allows('iot:Publish', topic) ?? false);
    if (allowed) {
      done(null);
      return;
    }
    this.emit({
      type: 'PublishIn.AuthError',
      message: `PUBLISH ${topic} by ${client.id} not authorized: disconnected`,
      clientId: client.id,
    });
    // AWS IoT disconnects a client that publishes where its policy does not allow.
    done(new Error(`PUBLISH to ${topic} not authorized`));
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
  }
}
