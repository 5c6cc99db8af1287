/** The IoT emulator, exercised only through the unmodified @aws-sdk/client-iot. */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateProvisioningTemplateCommand,
  DeleteCACertificateCommand,
  DeleteRegistrationCodeCommand,
  DescribeCACertificateCommand,
  DescribeProvisioningTemplateCommand,
  GetRegistrationCodeCommand,
  IoTClient,
  ListCACertificatesCommand,
  ListProvisioningTemplatesCommand,
  ListTagsForResourceCommand,
  ListThingsCommand,
  RegisterCACertificateCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateCACertificateCommand,
} from '@aws-sdk/client-iot';
import { IotEmulator, IotError } from '../../local/iot/emulator.ts';
import { startIotServer, type RunningServer } from '../../local/iot/server.ts';
import { inspectCaFile } from '../../functions/core/certificate.ts';
import { JITP_TEMPLATE_BODY } from '../fixtures/devices.ts';
import { makeCa, makeLeaf, type Pki } from '../fixtures/pki.ts';

const ROLE = 'arn:aws:iam::000000000000:role/provisioning';

let stateDir: string;
let emulator: IotEmulator;
let server: RunningServer;
let iot: IoTClient;
let ca: Pki;

const start = async () => {
  emulator = new IotEmulator({ stateDir });
  server = await startIotServer(emulator);
  iot = new IoTClient({
    region: 'us-east-1',
    endpoint: server.url,
    maxAttempts: 1,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
};
const stop = async () => {
  iot.destroy();
  await server.close();
};
const code = async () => (await iot.send(new GetRegistrationCodeCommand({}))).registrationCode as string;
const verificationFor = async (pki: Pki) => (await makeLeaf(pki, `CN=${await code()}`)).pem;
const registerDefault = async (pki: Pki) =>
  iot.send(
    new RegisterCACertificateCommand({
      caCertificate: pki.pem,
      verificationCertificate: await verificationFor(pki),
      certificateMode: 'DEFAULT',
    }),
  );
/** The JITP template `jitp` the listing tests filter by. */
const createJitpTemplate = () =>
  iot.send(
    new CreateProvisioningTemplateCommand({
      templateName: 'jitp',
      templateBody: JITP_TEMPLATE_BODY,
      provisioningRoleArn: ROLE,
      type: 'JITP',
    }),
  );
/** Registers `count` new SNI_ONLY CAs, one after another: their ids in creation order. */
const registerSniOnly = async (count: number): Promise<string[]> => {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const pki = await makeCa();
    ids.push(
      (await iot.send(new RegisterCACertificateCommand({ caCertificate: pki.pem, certificateMode: 'SNI_ONLY' })))
        .certificateId as string,
    );
  }
  return ids;
};
const errorOf = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.unreachable('expected an error'),
    (error: Error & { $metadata: { httpStatusCode: number } }) => error,
  );

beforeAll(async () => {
  ca = await makeCa();
});
beforeEach(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'iot-emulator-'));
  await start();
});
afterEach(async () => {
  await stop();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('registration code', () => {
  it('is 64 hex characters, stable across calls and restarts, new after DeleteRegistrationCode', async () => {
    const first = await code();
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(await code()).toBe(first);
    await stop();
    await start();
    expect(await code()).toBe(first);
    await iot.send(new DeleteRegistrationCodeCommand({}));
    expect(await code()).not.toBe(first);
  });
});

describe('RegisterCACertificate', () => {
  it('registers INACTIVE with auto-registration off, certificateId = SHA-256 of the DER, AWS ARN form', async () => {
    const response = await registerDefault(ca);
    const id = inspectCaFile(ca.pem).certificateId;
    expect(response).toMatchObject({
      certificateId: id,
      certificateArn: `arn:aws:iot:us-east-1:000000000000:cacert/${id}`,
    });
    const { certificateDescription: d } = await iot.send(new DescribeCACertificateCommand({ certificateId: id }));
    expect(d).toMatchObject({
      status: 'INACTIVE',
      autoRegistrationStatus: 'DISABLE',
      certificateMode: 'DEFAULT',
      customerVersion: 1,
      ownedBy: '000000000000',
    });
    expect(d?.validity?.notAfter?.toISOString()).toBe(inspectCaFile(ca.pem).notAfter);
    expect(d?.creationDate).toBeInstanceOf(Date);
  });

  it('honours setAsActive and allowAutoRegistration', async () => {
    const sni = await makeCa();
    await iot.send(
      new RegisterCACertificateCommand({
        caCertificate: sni.pem,
        certificateMode: 'SNI_ONLY',
        setAsActive: true,
        allowAutoRegistration: true,
      }),
    );
    const { certificateDescription: d } = await iot.send(
      new DescribeCACertificateCommand({ certificateId: inspectCaFile(sni.pem).certificateId }),
    );
    expect(d).toMatchObject({ status: 'ACTIVE', autoRegistrationStatus: 'ENABLE', certificateMode: 'SNI_ONLY' });
  });

  it('refuses a verification CN that is not the registration code (400 RegistrationCodeValidationException)', async () => {
    const wrong = await makeLeaf(ca, 'CN=wrong');
    const error = await errorOf(
      iot.send(new RegisterCACertificateCommand({ caCertificate: ca.pem, verificationCertificate: wrong.pem })),
    );
    expect(error.name).toBe('RegistrationCodeValidationException');
    expect(error.$metadata.httpStatusCode).toBe(400);
  });

  it('refuses a verification certificate signed by another key (CertificateValidationException)', async () => {
    const other = await makeCa({ fresh: true, subject: ca.subject });
    const forged = await makeLeaf(other, `CN=${await code()}`);
    const error = await errorOf(
      iot.send(new RegisterCACertificateCommand({ caCertificate: ca.pem, verificationCertificate: forged.pem })),
    );
    expect(error.name).toBe('CertificateValidationException');
  });

  it('refuses DEFAULT without verification and SNI_ONLY with one (InvalidRequestException)', async () => {
    expect((await errorOf(iot.send(new RegisterCACertificateCommand({ caCertificate: ca.pem })))).name).toBe(
      'InvalidRequestException',
    );
    const withVerification = iot.send(
      new RegisterCACertificateCommand({
        caCertificate: ca.pem,
        certificateMode: 'SNI_ONLY',
        verificationCertificate: await verificationFor(ca),
      }),
    );
    expect((await errorOf(withVerification)).name).toBe('InvalidRequestException');
  });

  it('refuses what is not a CA, expired, weak or garbage (CertificateValidationException)', async () => {
    const cases = [
      (await makeCa({ ca: false })).pem,
      (await makeCa({ notBefore: new Date(Date.now() - 9e9), notAfter: new Date(Date.now() - 1e6) })).pem,
      (await makeCa({ key: { type: 'rsa', bits: 1024 } })).pem,
      (await makeCa({ hash: 'SHA-1' })).pem,
      'not a certificate',
    ];
    for (const pem of cases) {
      const error = await errorOf(
        iot.send(new RegisterCACertificateCommand({ caCertificate: pem, certificateMode: 'SNI_ONLY' })),
      );
      expect(error.name).toBe('CertificateValidationException');
    }
  });

  it('answers a duplicate with 409 ResourceAlreadyExistsException carrying resourceId and resourceArn', async () => {
    const { certificateId, certificateArn } = await registerDefault(ca);
    const error = (await errorOf(registerDefault(ca))) as Error & {
      resourceId?: string;
      resourceArn?: string;
      $metadata: { httpStatusCode: number };
    };
    expect(error.name).toBe('ResourceAlreadyExistsException');
    expect(error.$metadata.httpStatusCode).toBe(409);
    expect(error).toMatchObject({ resourceId: certificateId, resourceArn: certificateArn });
  });

  it('allows at most 10 CAs with the same subject (410 LimitExceededException)', async () => {
    const subject = 'CN=Same Subject CA';
    for (let i = 0; i < 10; i++) {
      const twin = await makeCa({ subject });
      await iot.send(new RegisterCACertificateCommand({ caCertificate: twin.pem, certificateMode: 'SNI_ONLY' }));
    }
    const eleventh = await makeCa({ subject });
    const error = await errorOf(
      iot.send(new RegisterCACertificateCommand({ caCertificate: eleventh.pem, certificateMode: 'SNI_ONLY' })),
    );
    expect(error.name).toBe('LimitExceededException');
    expect(error.$metadata.httpStatusCode).toBe(410);
  });
});

describe('UpdateCACertificate, DeleteCACertificate and templates', () => {
  beforeEach(async () => {
    await iot.send(
      new CreateProvisioningTemplateCommand({
        templateName: 'jitp',
        templateBody: JITP_TEMPLATE_BODY,
        provisioningRoleArn: ROLE,
        type: 'JITP',
        enabled: true,
      }),
    );
    await iot.send(
      new CreateProvisioningTemplateCommand({
        templateName: 'fleet',
        templateBody: JITP_TEMPLATE_BODY,
        provisioningRoleArn: ROLE,
      }),
    );
  });

  it('attaches a JITP template, moves status both ways and bumps customerVersion and generationId', async () => {
    const { certificateId } = await registerDefault(ca);
    const before = (await iot.send(new DescribeCACertificateCommand({ certificateId }))).certificateDescription;
    await iot.send(new UpdateCACertificateCommand({ certificateId, registrationConfig: { templateName: 'jitp' } }));
    await iot.send(
      new UpdateCACertificateCommand({ certificateId, newStatus: 'ACTIVE', newAutoRegistrationStatus: 'ENABLE' }),
    );
    const after = await iot.send(new DescribeCACertificateCommand({ certificateId }));
    expect(after.certificateDescription).toMatchObject({
      status: 'ACTIVE',
      autoRegistrationStatus: 'ENABLE',
      customerVersion: 3,
    });
    expect(after.certificateDescription?.generationId).not.toBe(before?.generationId);
    expect(after.registrationConfig).toEqual({ templateName: 'jitp' });
    await iot.send(
      new UpdateCACertificateCommand({ certificateId, newStatus: 'INACTIVE', removeAutoRegistration: true }),
    );
    const reverted = await iot.send(new DescribeCACertificateCommand({ certificateId }));
    expect(reverted.certificateDescription?.status).toBe('INACTIVE');
    expect(reverted.registrationConfig).toBeUndefined();
  });

  it('refuses a FLEET_PROVISIONING template, a missing template and REGISTER_INACTIVE', async () => {
    const { certificateId } = await registerDefault(ca);
    expect(
      (
        await errorOf(
          iot.send(new UpdateCACertificateCommand({ certificateId, registrationConfig: { templateName: 'fleet' } })),
        )
      ).name,
    ).toBe('InvalidRequestException');
    expect(
      (
        await errorOf(
          iot.send(new UpdateCACertificateCommand({ certificateId, registrationConfig: { templateName: 'nope' } })),
        )
      ).name,
    ).toBe('ResourceNotFoundException');
    expect(
      (
        await errorOf(
          iot.send(new UpdateCACertificateCommand({ certificateId, newStatus: 'REGISTER_INACTIVE' as never })),
        )
      ).name,
    ).toBe('InvalidRequestException');
  });

  it('cannot delete an ACTIVE CA (406 CertificateStateException), can once INACTIVE', async () => {
    const { certificateId } = await registerDefault(ca);
    await iot.send(new UpdateCACertificateCommand({ certificateId, newStatus: 'ACTIVE' }));
    const error = await errorOf(iot.send(new DeleteCACertificateCommand({ certificateId })));
    expect(error.name).toBe('CertificateStateException');
    expect(error.$metadata.httpStatusCode).toBe(406);
    await iot.send(new UpdateCACertificateCommand({ certificateId, newStatus: 'INACTIVE' }));
    await iot.send(new DeleteCACertificateCommand({ certificateId }));
    expect((await errorOf(iot.send(new DescribeCACertificateCommand({ certificateId })))).name).toBe(
      'ResourceNotFoundException',
    );
  });

  it('describes and lists templates with their type; refuses bad bodies and duplicates', async () => {
    expect(await iot.send(new DescribeProvisioningTemplateCommand({ templateName: 'jitp' }))).toMatchObject({
      type: 'JITP',
      enabled: true,
    });
    expect((await errorOf(iot.send(new DescribeProvisioningTemplateCommand({ templateName: 'nope' })))).name).toBe(
      'ResourceNotFoundException',
    );
    const listed = await iot.send(new ListProvisioningTemplatesCommand({ maxResults: 1 }));
    expect(listed.templates?.map((t) => t.templateName)).toEqual(['fleet']);
    const rest = await iot.send(new ListProvisioningTemplatesCommand({ maxResults: 1, nextToken: listed.nextToken }));
    expect(rest.templates?.map((t) => [t.templateName, t.type])).toEqual([['jitp', 'JITP']]);
    const badParameter = JSON.stringify({ Parameters: { ThingName: { Type: 'String' } }, Resources: {} });
    expect(
      (
        await errorOf(
          iot.send(
            new CreateProvisioningTemplateCommand({
              templateName: 'bad',
              templateBody: badParameter,
              provisioningRoleArn: ROLE,
              type: 'JITP',
            }),
          ),
        )
      ).name,
    ).toBe('InvalidRequestException');
    const bothPolicy = JSON.stringify({
      Resources: { p: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'a', PolicyDocument: '{}' } } },
    });
    expect(
      (
        await errorOf(
          iot.send(
            new CreateProvisioningTemplateCommand({
              templateName: 'bad2',
              templateBody: bothPolicy,
              provisioningRoleArn: ROLE,
              type: 'JITP',
            }),
          ),
        )
      ).name,
    ).toBe('InvalidRequestException');
    expect((await errorOf(createJitpTemplate())).name).toBe('ResourceAlreadyExistsException');
  });
});

describe('ListCACertificates', () => {
  it('pages up to 250, in creation order either way, and filters by template', async () => {
    await createJitpTemplate();
    const ids = await registerSniOnly(5);
    await iot.send(
      new UpdateCACertificateCommand({ certificateId: ids[1], registrationConfig: { templateName: 'jitp' } }),
    );
    const seen: string[] = [];
    let marker: string | undefined;
    do {
      const page = await iot.send(
        new ListCACertificatesCommand({ pageSize: 2, ascendingOrder: true, ...(marker ? { marker } : {}) }),
      );
      expect(page.certificates?.length).toBeLessThanOrEqual(2);
      seen.push(...(page.certificates ?? []).map((c) => c.certificateId as string));
      marker = page.nextMarker;
    } while (marker);
    expect(seen).toEqual(ids);
    const descending = await iot.send(new ListCACertificatesCommand({ pageSize: 250 }));
    expect(descending.certificates?.map((c) => c.certificateId)).toEqual([...ids].reverse());
    const filtered = await iot.send(new ListCACertificatesCommand({ templateName: 'jitp' }));
    expect(filtered.certificates?.map((c) => c.certificateId)).toEqual([ids[1]]);
    expect((await errorOf(iot.send(new ListCACertificatesCommand({ pageSize: 251 })))).name).toBe(
      'InvalidRequestException',
    );
  });

  it('shows a change made between two pages on the next page (the sorted listing is kept only until a write)', async () => {
    const ids = await registerSniOnly(4);
    const list = (marker?: string, templateName?: string) =>
      iot.send(
        new ListCACertificatesCommand({
          pageSize: 2,
          ascendingOrder: true,
          ...(marker ? { marker } : {}),
          ...(templateName ? { templateName } : {}),
        }),
      );
    const first = await list();
    expect(first.certificates?.map((c) => c.status)).toEqual(['INACTIVE', 'INACTIVE']);
    await iot.send(new UpdateCACertificateCommand({ certificateId: ids[3], newStatus: 'ACTIVE' }));
    const second = await list(first.nextMarker);
    expect(second.certificates?.map((c) => [c.certificateId, c.status])).toEqual([
      [ids[2], 'INACTIVE'],
      [ids[3], 'ACTIVE'],
    ]);
    // A filtered listing taken before a CA joins the template shows it once it has.
    await createJitpTemplate();
    expect((await list(undefined, 'jitp')).certificates).toEqual([]);
    await iot.send(
      new UpdateCACertificateCommand({ certificateId: ids[0], registrationConfig: { templateName: 'jitp' } }),
    );
    expect((await list(undefined, 'jitp')).certificates?.map((c) => c.certificateId)).toEqual([ids[0]]);
    // A deleted CA leaves the listing.
    await iot.send(new DeleteCACertificateCommand({ certificateId: ids[1] }));
    const head = await list();
    const all = [...(head.certificates ?? []), ...((await list(head.nextMarker)).certificates ?? [])];
    expect(all.map((c) => c.certificateId)).toEqual([ids[0], ids[2], ids[3]]);
  });
});

describe('tags', () => {
  it('tags, lists (paged), untags; 51 tags is LimitExceededException; key/value lengths and aws: are invalid', async () => {
    const { certificateArn } = await registerDefault(ca);
    const tags = Array.from({ length: 30 }, (_, i) => ({ Key: `k${i}`, Value: `v${i}` }));
    await iot.send(new TagResourceCommand({ resourceArn: certificateArn, tags }));
    const first = await iot.send(new ListTagsForResourceCommand({ resourceArn: certificateArn }));
    const second = await iot.send(
      new ListTagsForResourceCommand({ resourceArn: certificateArn, nextToken: first.nextToken }),
    );
    expect([...(first.tags ?? []), ...(second.tags ?? [])]).toHaveLength(30);
    await iot.send(new UntagResourceCommand({ resourceArn: certificateArn, tagKeys: ['k0', 'k1'] }));
    const remaining = await iot.send(new ListTagsForResourceCommand({ resourceArn: certificateArn }));
    expect(remaining.tags?.some((t) => t.Key === 'k0')).toBe(false);
    const tooMany = Array.from({ length: 23 }, (_, i) => ({ Key: `x${i}`, Value: '' }));
    const limit = await errorOf(iot.send(new TagResourceCommand({ resourceArn: certificateArn, tags: tooMany })));
    expect([limit.name, limit.$metadata.httpStatusCode]).toEqual(['LimitExceededException', 410]);
    expect(
      (
        await errorOf(
          iot.send(new TagResourceCommand({ resourceArn: certificateArn, tags: [{ Key: 'aws:x', Value: '' }] })),
        )
      ).name,
    ).toBe('InvalidRequestException');
    expect(
      (
        await errorOf(
          iot.send(
            new TagResourceCommand({ resourceArn: certificateArn, tags: [{ Key: 'k'.repeat(129), Value: '' }] }),
          ),
        )
      ).name,
    ).toBe('InvalidRequestException');
    expect(
      (
        await errorOf(
          iot.send(
            new TagResourceCommand({ resourceArn: certificateArn, tags: [{ Key: 'k', Value: 'v'.repeat(257) }] }),
          ),
        )
      ).name,
    ).toBe('InvalidRequestException');
    const unknown = certificateArn?.replace(/cacert\/\w+/, `cacert/${'0'.repeat(64)}`);
    expect((await errorOf(iot.send(new ListTagsForResourceCommand({ resourceArn: unknown })))).name).toBe(
      'ResourceNotFoundException',
    );
  });
});

describe('errors as AWS’s model gives them', () => {
  it('refuses a certificateId that is not 64 hexadecimal characters with InvalidRequestException', async () => {
    for (const certificateId of ['abc', 'g'.repeat(64), `${'a'.repeat(64)}0`]) {
      for (const command of [
        new DescribeCACertificateCommand({ certificateId }),
        new UpdateCACertificateCommand({ certificateId, newStatus: 'ACTIVE' }),
        new DeleteCACertificateCommand({ certificateId }),
      ]) {
        const error = await errorOf(iot.send(command as never));
        expect([error.name, error.$metadata.httpStatusCode], certificateId).toEqual(['InvalidRequestException', 400]);
      }
    }
    expect((await errorOf(iot.send(new DescribeCACertificateCommand({ certificateId: 'f'.repeat(64) })))).name).toBe(
      'ResourceNotFoundException',
    );
  });

  it('hands out markers in AWS’s pattern and refuses one that is not', async () => {
    await registerSniOnly(3);
    const page = await iot.send(new ListCACertificatesCommand({ pageSize: 1 }));
    expect(page.nextMarker).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(page.nextMarker?.length).toBeLessThanOrEqual(1024);
    for (const marker of ['not-base64_', Buffer.from('{"offset":-1}').toString('base64'), 'A'.repeat(1028)]) {
      const error = await errorOf(iot.send(new ListCACertificatesCommand({ marker })));
      expect(error.name, marker.slice(0, 20)).toBe('InvalidRequestException');
    }
  });

  it('never answers 503 from TagResource: its model has no ServiceUnavailableException', async () => {
    const { certificateArn } = await registerDefault(ca);
    emulator.faults = { faultRate: 1 };
    const names = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const error = await errorOf(
        iot.send(new TagResourceCommand({ resourceArn: certificateArn, tags: [{ Key: 'k', Value: 'v' }] })),
      );
      names.add(`${error.name} ${error.$metadata.httpStatusCode}`);
    }
    expect([...names]).toEqual(['InternalFailureException 500']);
  });

  it('answers an error an operation’s model does not list as InternalFailureException naming the mistake', async () => {
    // A fault planted in the emulator: ListProvisioningTemplates cannot return ResourceNotFoundException.
    emulator.listProvisioningTemplates = () => {
      throw new IotError('ResourceNotFoundException', 404, 'planted');
    };
    const error = await errorOf(iot.send(new ListProvisioningTemplatesCommand({})));
    expect([error.name, error.$metadata.httpStatusCode]).toEqual(['InternalFailureException', 500]);
    expect(error.message).toMatch(/ListProvisioningTemplates answered ResourceNotFoundException \(planted\)/);
  });

  it('refuses an unsigned call as its model allows: 401 where UnauthorizedException is listed, else 403', async () => {
    const tags = await fetch(`${server.url}/tags?resourceArn=x`);
    expect([tags.status, tags.headers.get('x-amzn-errortype')]).toEqual([403, 'MissingAuthenticationTokenException']);
    const code = await fetch(`${server.url}/registrationcode`);
    expect([code.status, code.headers.get('x-amzn-errortype')]).toEqual([401, 'UnauthorizedException']);
  });
});

describe('settings, persistence and the wire', () => {
  it('enforces a per-operation TPS quota with ThrottlingException', async () => {
    emulator.faults = { tps: { GetRegistrationCode: 3 } };
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => code()));
    const throttled = results.filter(
      (r) => r.status === 'rejected' && (r.reason as Error).name === 'ThrottlingException',
    );
    expect(throttled.length).toBeGreaterThanOrEqual(3);
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(1);
  });

  it('injects throttling and 5xx at the configured rates', async () => {
    emulator.faults = { throttleRate: 1 };
    expect((await errorOf(code())).name).toBe('ThrottlingException');
    emulator.faults = { faultRate: 1 };
    const fault = await errorOf(code());
    expect(fault.$metadata.httpStatusCode).toBeGreaterThanOrEqual(500);
  });

  it('adds the configured latency', async () => {
    emulator.faults = { latencyMs: 120 };
    const t0 = performance.now();
    await code();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(100);
  });

  it('keeps CAs, tags and templates across a restart, and ignores a torn temporary file', async () => {
    const { certificateId, certificateArn } = await registerDefault(ca);
    await iot.send(new TagResourceCommand({ resourceArn: certificateArn, tags: [{ Key: 'team', Value: 'a' }] }));
    await stop();
    writeFileSync(join(stateDir, 'iot', 'cacertificates', `${certificateId}.json.123.0.tmp`), '{"torn');
    await start();
    expect(
      (await iot.send(new DescribeCACertificateCommand({ certificateId }))).certificateDescription?.certificateId,
    ).toBe(certificateId);
    expect((await iot.send(new ListTagsForResourceCommand({ resourceArn: certificateArn }))).tags).toEqual([
      { Key: 'team', Value: 'a' },
    ]);
    expect(readdirSync(join(stateDir, 'iot', 'cacertificates')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('answers an operation it does not implement with a clear error, not a hang', async () => {
    const error = await errorOf(iot.send(new ListThingsCommand({})));
    expect(error.name).toBe('NotImplementedException');
    expect(error.message).toMatch(/does not implement GET \/things/);
  });

  it('refuses unsigned requests as UnauthorizedException', async () => {
    const response = await fetch(`${server.url}/registrationcode`);
    expect(response.status).toBe(401);
    expect(response.headers.get('x-amzn-errortype')).toBe('UnauthorizedException');
  });

  it('listens on 127.0.0.1 only', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((server.server.address() as { address: string }).address).toBe('127.0.0.1');
  });
});
