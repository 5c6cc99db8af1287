/** `iot-ca`: the pipeline's CLI, against the deployed stack or (--local) the embedded one. */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { check } from './commands/check.ts';
import { demo } from './commands/demo.ts';
import { list } from './commands/list.ts';
import { reconcile } from './commands/reconcile.ts';
import { registrationCode } from './commands/registration-code.ts';
import { run } from './commands/run.ts';
import { status } from './commands/status.ts';
import { drop } from './commands/drop.ts';
import { result } from './commands/result.ts';
import { createOutput, reportError } from './output.ts';
import type { GlobalOptions } from './context.ts';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const program = new Command('iot-ca')
  .description('Registers X.509 CA certificates with AWS IoT Core for just-in-time provisioning.')
  .version(version, '-V, --version', 'print the version')
  .option('--json', 'machine-readable output')
  .option('--local', 'use the embedded local stack (a running `iot-ca up`, or one started in-process)')
  .option('--stage <stage>', 'deployed stage (stack iot-ca-pipeline-<stage>)', 'dev')
  .option('--region <region>', 'AWS Region of the deployed stack')
  .showHelpAfterError()
  .exitOverride();

const globals = (): GlobalOptions => program.opts<GlobalOptions>();
let exitCode = 0;
const action =
  <A extends unknown[]>(fn: (...args: A) => Promise<number> | number) =>
  async (...args: A) => {
    exitCode = await fn(...args);
  };
const collect = (value: string, previous: string[] = []) => [...previous, value];

program
  .command('up')
  .description('start the local stack in the foreground and log each execution')
  .option('--iot-quota [tps]', "enforce AWS IoT's per-operation quota (default 10 TPS when given)")
  .option('--throttle-rate <0-1>', 'share of IoT calls answered ThrottlingException')
  .option('--fault-rate <0-1>', 'share of IoT calls answered 500/503')
  .option('--latency-ms <ms>', 'latency added to each IoT call')
  .option('--retry-interval-ms <ms>', "fixed pause between retries instead of the ASL's backoff")
  .option('--no-schedules', "don't run the reconcile schedules serverless.yml declares")
  .option('--no-iam', "don't evaluate each function's IAM role at the local endpoints")
  .action(
    action(async (options) => (await import('./commands/up.ts')).up(options, createOutput(Boolean(globals().json)))),
  );

program
  .command('down')
  .description('stop the `iot-ca up` running on this state directory')
  .action(action(async () => (await import('./commands/down.ts')).down(createOutput(Boolean(globals().json)))));

program
  .command('demo')
  .description('one shot on the local stack: a DEFAULT and an SNI_ONLY demo CA, dropped and followed to ACTIVE')
  .action(action(() => demo(createOutput(Boolean(globals().json)))));

program
  .command('check <ca.pem>')
  .description("the pipeline's pre-flight checks, offline")
  .option('--verification <file>', 'verification certificate to check against the CA')
  .option('--mode <mode>', "DEFAULT or SNI_ONLY (default: the deployment's, as for drop)")
  .option('--registration-code <code>', 'compare the verification CN with this code')
  .option(
    '--signer <signer>',
    'kms:<key id|alias|ARN> or pca:<CA ARN>, as for drop --signer: DEFAULT mode with no verification certificate (the pipeline has one signed); the value is checked, the signer is not called',
  )
  .action(action((file: string, options) => check(file, options, createOutput(Boolean(globals().json)))));

program
  .command('check-template <name-or-file>')
  .description(
    "a JITP template against AWS's rules, and what JITP would make of a device: Thing, attributes, status, policy",
  )
  .option('--device <device.pem>', 'a device certificate to evaluate the template for')
  .action(
    action(async (reference: string, options) =>
      (await import('./commands/check-template.ts')).checkTemplateCommand(
        reference,
        options,
        globals(),
        createOutput(Boolean(globals().json)),
      ),
    ),
  );

const ca = program
  .command('ca')
  .description(
    'ca create --signer kms|pca --out ca.pem: a CA whose private key never leaves AWS KMS or AWS Private CA',
  );
ca.command('create')
  .description(
    'make a CA whose key stays in KMS (self-signed through KMS Sign) or Private CA (a root CA); write only its certificate and print the signer for `drop --signer`',
  )
  .requiredOption('--signer <kms|pca>', 'where the key is made and kept: kms or pca')
  .requiredOption('--out <ca.pem>', 'where the CA certificate is written (never replaced without --force)')
  .option(
    '--subject <dn>',
    'the CA\'s subject, e.g. "CN=Factory CA,O=Acme,C=DE" (default: CN=iot-ca <KMS|PCA> CA <time>)',
  )
  .option(
    '--key-spec <spec>',
    'kms: ECC_NIST_P256 (default), ECC_NIST_P384, RSA_2048, RSA_3072; pca: EC_prime256v1 (default), RSA_2048',
  )
  .option('--days <n>', 'validity of the CA certificate in days (default 3650)')
  .option('--alias <name>', "kms: the key's alias (default: alias/iot-ca/<the CN in lower case>)")
  .option('--force', 'replace the --out file if it exists')
  .addHelpText(
    'after',
    `
The key is created in the service and never leaves it; no key file is written. With --local the
embedded stack's emulators make it (a running \`iot-ca up\`); otherwise your AWS account, with the
default credential chain and Region (--region). AWS bills a KMS key and, more, a Private CA
monthly until you delete them.

Then register the CA in DEFAULT mode, the pipeline proving ownership through the signer:
  iot-ca drop ca.pem --signer <the signer printed> --wait`,
  )
  .action(
    action(async (options) =>
      (await import('./commands/ca.ts')).caCreate(options, globals(), createOutput(Boolean(globals().json))),
    ),
  );

program
  .command('registration-code')
  .description('print the registration code (the CN of a verification certificate)')
  .action(action(() => registrationCode(globals(), createOutput(Boolean(globals().json)))));

program
  .command('drop <files...>')
  .description('upload CA files (or folders of them) with their options; --wait follows each flow to its outcome')
  .option(
    '--verification <file>',
    'verification certificate for a single CA, uploaded in the same object after it (in folders: <name>.verification.pem)',
  )
  .option('--mode <mode>', 'DEFAULT or SNI_ONLY')
  .option('--template <name>', 'JITP provisioning template')
  .option('--tag <k=v>', 'one tag for the CA (repeat for more)', collect)
  .option(
    '--signer <signer>',
    'kms:<key id|alias|ARN> or pca:<CA ARN> holding the CA key (from `ca create`): DEFAULT mode with no verification certificate, the pipeline has one signed',
  )
  .option('--key <key>', 'object key for a single file (default: <incoming prefix><file name>)')
  .option('--wait', 'follow each execution; exit non-zero unless every CA ends ACTIVE')
  .option('--dry-run', 'check the files and show what the drop would change; upload nothing')
  .option('--concurrency <n>', 'files uploaded and followed at once (default 8)')
  .action(action((files: string[], options) => drop(files, options, globals(), createOutput(Boolean(globals().json)))));

program
  .command('result <file-or-key>')
  .description('what became of a dropped file: its receipt or failure report, the execution and its steps')
  .action(action((reference: string) => result(reference, globals(), createOutput(Boolean(globals().json)))));

program
  .command('run <input.json>')
  .description('manual execution with {"bucket": "...", "key": "..."}')
  .option('--no-wait', 'do not follow the execution')
  .action(action((file: string, options) => run(file, options, globals(), createOutput(Boolean(globals().json)))));

program
  .command('reconcile')
  .description(
    'compare the bucket with IoT now: repair drift, register what is missing, report orphans and expiring CAs',
  )
  .option('--deep', 'also check each CA (auto-registration, mode, tags), rate-limited under the IoT quota')
  .action(action((options) => reconcile(options, globals(), createOutput(Boolean(globals().json)))));

program
  .command('list')
  .description('CA certificates with status, mode, template and days to expiry')
  .option('--all', 'also every file dropped under the incoming prefix with its outcome (failed and pending ones too)')
  .action(action((options) => list(options, globals(), createOutput(Boolean(globals().json)))));

program
  .command('status <certificateId>')
  .description('one CA certificate in detail (the id or any unique prefix of it, as list prints it)')
  .action(action((id: string) => status(id, globals(), createOutput(Boolean(globals().json)))));

program
  .command('retire <certificateId|ca.pem>')
  .description(
    'retire a CA with retire-ca: deactivate it (auto-registration off: no new device provisions), count the device certificates it signed, then its policy; follows it and prints the receipt',
  )
  .option('--reason <text>', 'why, kept in the receipt and the CA Retired event (default: manual)')
  .option(
    '--policy <policy>',
    "deactivate (keep the CA INACTIVE) or delete-after (delete it after --delete-after-days); default: the CA's tag iot-ca:retire-policy, else the deployment's retirePolicy",
  )
  .option('--delete-after-days <n>', 'days before DeleteCACertificate (implies --policy delete-after)')
  .option(
    '--revoke-devices',
    'also revoke every device certificate the CA signed: irreversible, the devices are cut off (asks on a terminal; --yes in scripts)',
  )
  .option('--yes', 'confirm --revoke-devices without asking')
  .option('--no-wait', 'return once retire-ca has started')
  .addHelpText(
    'after',
    `
The CA is named by its certificateId (or a unique prefix, as list prints it) or by its PEM file.
Deactivating does not cut off the devices already registered: they keep connecting until their
certificates are revoked (--revoke-devices). With delete-after the command returns once the CA is
INACTIVE and reported; retire-ca deletes it when the days are over, unless the CA is ACTIVE
again or its file was uploaded again after the retirement started. Exit 0 when the CA is retired
(also when it already was).`,
  )
  .action(
    action(async (reference: string, options) =>
      (await import('./commands/retire.ts')).retire(
        reference,
        options,
        globals(),
        createOutput(Boolean(globals().json)),
      ),
    ),
  );

program
  .command('rotate <old> <new.pem>')
  .description(
    'replace a CA: register the new one (replaces=<old>) and wait for ACTIVE, optionally smoke-test a device through it, then start retire-ca for the old one after a grace period',
  )
  .option('--verification <file>', 'verification certificate for the new CA (DEFAULT mode), as for drop')
  .option(
    '--signer <signer>',
    "kms:<key id|alias|ARN> or pca:<CA ARN> holding the new CA's key: it signs the verification certificate (and the smoke test device)",
  )
  .option('--mode <mode>', "DEFAULT or SNI_ONLY for the new CA (default: the old CA's)")
  .option(
    '--grace-days <n>',
    'days the old CA stays ACTIVE beside the new one before retire-ca deactivates it (default 7)',
  )
  .option('--smoke-test', 'before retiring the old CA, connect a device of the new one until JITP provisions it')
  .option('--device-ca-key <file>', "the new CA's private key for the smoke test device (read here, never uploaded)")
  .option('--timeout <seconds>', 'smoke test: give up after this long (default 60)')
  .addHelpText(
    'after',
    `
The old CA is named by its certificateId (or a unique prefix) or its PEM file; it must be ACTIVE.
Nothing touches it unless the new CA passes check, ends ACTIVE, and (with --smoke-test) a device
connects through it. The command does not wait out the grace period: retire-ca does, on AWS or in
the running \`iot-ca up\` (--local needs one). The new receipt says replaces, the old one replacedBy.
  iot-ca rotate 3f9a2c1b new-ca.pem --verification new-verification.pem --grace-days 14`,
  )
  .action(
    action(async (oldReference: string, newFile: string, options) =>
      (await import('./commands/rotate.ts')).rotate(
        oldReference,
        newFile,
        options,
        globals(),
        createOutput(Boolean(globals().json)),
      ),
    ),
  );

program
  .command('events')
  .description(
    "the pipeline's own events (CA Registered, CA Registration Failed, CA Expiring, CA Drift Repaired, CA Retired), oldest first",
  )
  .option('--follow', 'keep printing new events until Ctrl-C')
  .option('--since <when>', 'only events since a duration back (30s, 15m, 2h, 7d) or an ISO 8601 time')
  .option('--type <detail-type>', 'only events of this detail-type, e.g. "CA Retired"')
  .addHelpText(
    'after',
    `
--local reads the state directory's events file (it needs no running stack); otherwise the
CloudWatch Logs group of the deployed stack (Output EventsLogGroupName). One line per event:
time, detail-type, the CA's id (16 characters), what happened; --json: one event envelope per line.`,
  )
  .action(
    action(async (options) =>
      (await import('./commands/events.ts')).events(options, globals(), createOutput(Boolean(globals().json))),
    ),
  );

const device = program.command('device').description('devices of a registered CA: the JITP smoke test');
device
  .command('connect')
  .description(
    'make a device signed by the CA, connect it until JITP provisions it, publish and receive one message; exit 0 only if it ended connected',
  )
  .requiredOption('--ca <ca.pem>', 'the registered CA certificate')
  .option('--ca-key <ca.key>', "the CA's private key (read here, never uploaded or printed); or --signer")
  .option(
    '--signer <signer>',
    "kms:<key id|alias|ARN> or pca:<CA ARN> holding the CA's key (from `ca create`): KMS signs the device certificate, or Private CA issues it; checked against --ca first",
  )
  .option(
    '--cn <name>',
    'the device certificate CN, the Thing name under the default template (default: iot-ca-smoke-<random>)',
  )
  .option('--out <dir>', "where the device's key and certificate are kept (default: iot-ca-devices/<cn>)")
  .option('--timeout <seconds>', 'give up after this long (default 60)')
  .addHelpText(
    'after',
    `
Exactly one of --ca-key and --signer signs the device certificate. With --signer the CA's key
never leaves AWS KMS or AWS Private CA (--local: the running \`iot-ca up\`'s, which holds the keys
\`ca create --local\` made); the device's own key is made here and kept in --out as with --ca-key.
  iot-ca device connect --ca ca.pem --signer kms:alias/iot-ca/factory-ca --cn sensor-1`,
  )
  .action(
    action(async (options) =>
      (await import('./commands/device.ts')).deviceConnect(options, globals(), createOutput(Boolean(globals().json))),
    ),
  );

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version are not failures; usage errors were already printed by commander.
    exitCode = error.exitCode === 0 ? 0 : 2;
  } else {
    exitCode = reportError(error, Boolean(program.opts().json));
  }
}
process.exitCode = exitCode;
