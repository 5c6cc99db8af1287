/**
 * What the deployment creates in IoT besides the pipeline's own resources, created the same way in
 * the embedded stack's IoT emulator: the default JITP template and the device policy it names.
 */
import { LOCAL_ACCOUNT, type App } from './app.ts';
import { type IotEmulator, IotError, type IotEvent } from './iot/emulator.ts';

/** The device policy's name in the local stage (`iot-ca-${sls:stage}-device`). */
const DEVICE_POLICY = 'iot-ca-local-device';

/** The default JITP template as the deployment creates it (DefaultProvisioningTemplate). */
export const defaultTemplateBody = (app: App): string =>
  app.resolve(String(app.resources.DefaultProvisioningTemplate?.Properties.TemplateBody), {
    DevicePolicy: DEVICE_POLICY,
  });

export const ensureDefaultTemplate = (emulator: IotEmulator, templateName: string, templateBody: string): void => {
  try {
    emulator.describeProvisioningTemplate(templateName);
  } catch (error) {
    if (!(error instanceof IotError) || error.name !== 'ResourceNotFoundException') throw error;
    emulator.createProvisioningTemplate({
      templateName,
      description: 'Just-in-time provisioning for devices of CAs registered by iot-ca-pipeline (local).',
      templateBody,
      enabled: true,
      provisioningRoleArn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/iot-ca-local-provisioning`,
      type: 'JITP',
    });
  }
};

/** Without a listener, a template that fails on a device still shows: on stderr, as AWS logs it. */
export const logJitpFailures = (event: IotEvent): void => {
  if (event.type === 'ProvisionThing.ClientErrors') console.warn(`[iot] ${event.type}: ${event.message}`);
};

/** The device policy the deployment creates (DevicePolicy), which the default template names. */
export const ensureDevicePolicy = (emulator: IotEmulator, app: App): void => {
  const properties = app.resources.DevicePolicy?.Properties;
  if (!properties) return;
  // `${!name}` is !Sub's escape for a literal `${name}`: an IoT policy variable, kept for IoT to resolve.
  const escaped = JSON.stringify(properties.PolicyDocument).replaceAll('${!', '\u0000{');
  const document = app.resolve(escaped).replaceAll('\u0000{', '${');
  emulator.devices.policies.ensure(DEVICE_POLICY, document);
};
