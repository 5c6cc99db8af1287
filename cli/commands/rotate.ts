/**
 * `iot-ca rotate <old> <new.pem>`: registers the new CA as `drop --wait` does (the same code, with
 * metadata `replaces=<old id>`), optionally proves a device provisions through it (`device
 * connect`'s code), and only then starts retire-ca for the old CA with a grace period. It does not
 * wait out the grace: retire-ca does. Anything short of an ACTIVE new CA (and a connected device
 * when asked) stops before the old CA is touched. Decision: docs/adr/0103-cli-lifecycle-commands.md.
 */
import { resultKeyFor } from '../../functions/core/source.ts';
import { deployedTarget, type GlobalOptions, localTarget, requireRetire, type Target } from '../context.ts';
import { loadSigningCa } from '../device.ts';
import { readText } from '../files.ts';
import { CliError, type Output } from '../output.ts';
import { rotationText, shortId } from '../render.ts';
import { check } from './check.ts';
import { deviceConnect } from './device.ts';
import { drop } from './drop.ts';
import {
  describeForRetire,
  parseCaReference,
  requestIdFor,
  resolveReference,
  retiredKey,
  startRetire,
  type RetireSettings,
} from './retire.ts';

export interface RotateOptions {
  verification?: string;
  signer?: string;
  mode?: string;
  graceDays?: string;
  smokeTest?: boolean;
  deviceCaKey?: string;
  timeout?: string;
}

/** Days the old CA stays ACTIVE beside the new one unless --grace-days says otherwise. */
export const DEFAULT_GRACE_DAYS = 7;
const DAY_SECONDS = 86_400;

const usage = (message: string): CliError => new CliError('UsageError', message, 2);

/** The flags, checked before anything is read or reached; the grace in whole seconds. */
export const rotateSettings = (options: RotateOptions): { graceSeconds: number } => {
  let days = DEFAULT_GRACE_DAYS;
  if (options.graceDays !== undefined) {
    days = Number(options.graceDays);
    if (options.graceDays.trim() === '' || !Number.isFinite(days) || days < 0)
      throw usage(`--grace-days is "${options.graceDays}"; expected a number of days (0 or more).`);
  }
  if (options.deviceCaKey !== undefined && !options.smokeTest)
    throw usage('--device-ca-key signs the smoke test device: add --smoke-test, or leave it out.');
  if (options.smokeTest && (options.deviceCaKey === undefined) === (options.signer === undefined))
    throw usage(
      options.deviceCaKey === undefined
        ? '--smoke-test makes a device signed by the new CA: give its key with --device-ca-key <new.key>, or --signer kms:<key>|pca:<CA ARN> when AWS holds it.'
        : '--smoke-test signs the device with --device-ca-key or with --signer, not both.',
    );
  if (options.signer !== undefined && options.verification !== undefined)
    throw usage('--signer has the pipeline make and sign the verification certificate; drop --verification.');
  return { graceSeconds: Math.round(days * DAY_SECONDS) };
};

/** An Output whose result is kept for this command instead of printed: drop's, check's and device connect's. */
const capture = (out: Output): { out: Output; data: () => Record<string, unknown> | undefined } => {
  let data: Record<string, unknown> | undefined;
  return {
    out: {
      ...out,
      result: (value) => {
        data = value as Record<string, unknown>;
      },
    },
    data: () => data,
  };
};

/**
 * Locally, only a running `iot-ca up`: the old CA's retire-ca waits out the grace period there,
 * after this command has returned. A stack started in-process would end with the command.
 */
const rotateTarget = (global: GlobalOptions, out: Output): Promise<Target> =>
  global.local
    ? localTarget({
        attachOnly: 'rotate leaves retire-ca running through the grace period, which needs the stack to outlive it.',
        onProgress: out.progress,
        onNotice: out.notice,
      })
    : deployedTarget(global);

const untouched = (oldId: string): string => `CA ${oldId} was not touched (still ACTIVE).`;

export const rotate = async (
  oldReference: string,
  newFile: string,
  options: RotateOptions,
  global: GlobalOptions,
  out: Output,
): Promise<number> => {
  const { graceSeconds } = rotateSettings(options);
  const old = parseCaReference(oldReference);
  const target = await rotateTarget(global, out);
  try {
    requireRetire(target);
    const oldId = await resolveReference(target, old);
    const described = await describeForRetire(target, oldId);
    if (!described)
      throw new CliError(
        'CaNotFoundError',
        `AWS IoT holds no CA certificate ${oldId}; rotate replaces a registered CA. Register the new one alone with iot-ca drop ${newFile} --wait.`,
      );
    if (described.status !== 'ACTIVE')
      throw new CliError(
        'CaNotActiveError',
        `CA ${oldId} is ${described.status}: rotate hands over from an ACTIVE CA. Register the new one with iot-ca drop ${newFile} --wait; retire the old one with iot-ca retire ${oldId.slice(0, 16)}.`,
      );
    // The new CA registers as the old one did, unless told otherwise.
    const mode = options.mode ?? described.certificateMode;

    // 1. The new file passes `check` (offline), as the pipeline would judge it.
    const checked = capture(out);
    const checkCode = check(
      newFile,
      {
        ...(options.verification ? { verification: options.verification } : {}),
        ...(options.signer ? { signer: options.signer } : {}),
        ...(mode ? { mode } : {}),
      },
      checked.out,
    );
    const verdict = checked.data() as
      | { certificateId?: string; error?: { name: string; message: string; remedy: string } }
      | undefined;
    if (checkCode !== 0 || !verdict?.certificateId) {
      const error = verdict?.error;
      throw new CliError(
        error?.name ?? 'CheckFailedError',
        `${newFile} fails the pipeline's checks${error ? `: ${error.message}` : ''} Nothing was uploaded; ${untouched(oldId)}${error ? ` What to do: ${error.remedy}` : ''}`,
      );
    }
    const newId = verdict.certificateId;
    if (newId === oldId)
      throw usage(`${newFile} is CA ${oldId} itself: rotate needs a different CA. ${untouched(oldId)}`);

    // The smoke test's key is checked now: found wrong after the registration, it would leave two CAs.
    if (options.deviceCaKey !== undefined) {
      try {
        await loadSigningCa(readText(newFile, 'CA file'), readText(options.deviceCaKey, 'CA key'));
      } catch (error) {
        if (!(error instanceof CliError)) throw error;
        throw new CliError(
          error.name,
          `${error.message.replace('--ca-key', '--device-ca-key').replace('the --ca certificate', `the CA certificate ${newFile}`)} Nothing was uploaded; ${untouched(oldId)}`,
        );
      }
    }

    // 2. Registered with `replaces`, followed to ACTIVE: drop's own code on this target.
    out.progress(`registering ${newId} to replace ${oldId}`);
    const dropped = capture(out);
    const dropCode = await drop(
      [newFile],
      {
        wait: true,
        ...(options.verification ? { verification: options.verification } : {}),
        ...(options.signer ? { signer: options.signer } : {}),
        ...(mode ? { mode } : {}),
        ...(described.templateName ? { template: described.templateName } : {}),
        metadata: { replaces: oldId },
      },
      global,
      dropped.out,
      target,
    );
    const registration = dropped.data() as
      | {
          key: string;
          active: boolean;
          status: string;
          error?: string;
          result?: { outcome?: string; error?: { name: string; message: string } } | null;
        }
      | undefined;
    if (dropCode !== 0 || !registration?.active) {
      const failure = registration?.result?.error ?? {
        name: registration?.error ?? 'RegistrationFailedError',
        message: `register-ca ended ${registration?.status ?? 'without an outcome'}`,
      };
      throw new CliError(
        'RotationAbortedError',
        `The new CA ${newId} did not end ACTIVE (${failure.name}: ${failure.message}); ${untouched(oldId)} Details: iot-ca${global.local ? ' --local' : ''} result ${registration?.key ?? newFile}.`,
      );
    }
    const newReceiptKey = resultKeyFor(registration.key, target.resultsPrefix);

    // 3. Optionally, a device provisions through the new CA: device connect's own code.
    let smoke: { thingName: string; connected: boolean } | null = null;
    if (options.smokeTest) {
      out.progress(`smoke test: a device of ${newId.slice(0, 16)} connects through JITP`);
      const connected = capture(out);
      const code = await deviceConnect(
        {
          ca: newFile,
          ...(options.deviceCaKey ? { caKey: options.deviceCaKey } : {}),
          ...(options.signer && !options.deviceCaKey ? { signer: options.signer } : {}),
          ...(options.timeout ? { timeout: options.timeout } : {}),
        },
        global,
        connected.out,
      );
      const result = connected.data() as { connected?: boolean; device?: { thingName: string } } | undefined;
      smoke = { thingName: result?.device?.thingName ?? '?', connected: code === 0 && result?.connected === true };
      if (!smoke.connected)
        throw new CliError(
          'SmokeTestFailedError',
          `A device of the new CA ${newId} did not connect through JITP; ${untouched(oldId)} The new CA stays ACTIVE beside it: check its template (iot-ca check-template), then run rotate again.`,
        );
    }

    // 4. The old CA goes after the grace period: retire-ca waits, this command does not.
    const settings: RetireSettings & { replacedBy: string; graceSeconds: number } = {
      reason: 'rotated',
      replacedBy: newId,
      graceSeconds,
    };
    const executionArn = await startRetire(target, {
      certificateId: oldId,
      ...settings,
      requestId: requestIdFor(oldId, settings, described.customerVersion),
    });
    const deactivateAt = new Date(Date.now() + graceSeconds * 1000).toISOString();
    out.progress(`retire-ca started for ${oldId}: ${shortId(executionArn)}`);
    const view = {
      old: { certificateId: oldId, receiptKey: retiredKey(target, oldId) },
      new: { certificateId: newId, key: registration.key, receiptKey: newReceiptKey },
      smoke,
      retire: { executionArn, graceSeconds, deactivateAt },
    };
    out.result(view, rotationText(view, target.bucket));
    return 0;
  } finally {
    await target.close();
  }
};
