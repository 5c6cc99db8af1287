/** `iot-ca check`: the pipeline's pre-flight checks on a CA file, offline. */
import { checkVerification, daysLeft, inspectCaFile } from '../../functions/core/certificate.ts';
import { isPipelineError, PipelineError, remedyFor } from '../../functions/core/errors.ts';
import { parseCertificateMode } from '../../functions/core/options.ts';
import { derKind } from '../../functions/core/pem.ts';
import { parseSigner, type SignerSpec } from '../../functions/core/signer.ts';
import { readText } from '../files.ts';
import { CliError, type Output } from '../output.ts';
import { checkFailText, checkPassText } from '../render.ts';
import { deploymentDefaults } from '../rule.ts';

export interface CheckOptions {
  verification?: string;
  mode?: string;
  registrationCode?: string;
  /** `kms:<key>` or `pca:<CA ARN>`, as drop --signer: the pipeline makes the verification certificate. */
  signer?: string;
}

/**
 * What to do, for an offline check: nothing was uploaded, and a DER PKCS#7 bundle needs
 * `openssl pkcs7`, not the `openssl x509` the pipeline's NotPemError remedy gives for DER.
 */
const checkRemedy = (name: string, text: string): string => {
  if (name === 'PrivateKeyMaterialError') {
    return 'Nothing was uploaded. Keep the key out of the file: give the certificate alone (openssl x509 -in <file> -out ca.pem writes only the certificate).';
  }
  if (name === 'NotPemError' && derKind(text) === 'pkcs7') {
    return 'Extract the certificates from the PKCS#7 bundle first: openssl pkcs7 -inform der -print_certs -in <file> -out ca.pem';
  }
  return remedyFor(name);
};

export const check = (file: string, options: CheckOptions, out: Output): number => {
  if (options.signer !== undefined && options.verification)
    throw new CliError(
      'UsageError',
      '--signer has the pipeline make and sign the verification certificate; check with --verification or --signer, not both.',
      2,
    );
  const text = readText(file, 'CA file');
  // The mode a drop would get: the flag, else the deployment's default (serverless.yml params).
  const mode = options.mode ? parseCertificateMode(options.mode, '--mode') : deploymentDefaults().certificateMode;
  const notes: string[] = [];
  try {
    // The pipeline's own parser, as drop --signer: offline, the signer itself is not called.
    const signer: SignerSpec | undefined =
      options.signer === undefined ? undefined : parseSigner(options.signer, '--signer');
    if (signer && mode === 'SNI_ONLY')
      throw new PipelineError(
        'InvalidOptionsError',
        `--signer proves possession of the CA key, which SNI_ONLY mode does not check (${options.mode ? '--mode SNI_ONLY' : "the deployment's default mode"}): check without --signer, or with --mode DEFAULT.`,
      );
    const inspection = inspectCaFile(text);
    const verificationPem = options.verification
      ? readText(options.verification, 'verification file')
      : inspection.verificationPem;
    if (mode === 'SNI_ONLY' && verificationPem)
      throw new PipelineError('VerificationNotAllowedError', 'SNI_ONLY mode takes no verification certificate.');
    if (verificationPem) {
      checkVerification(inspection.caPem, verificationPem, options.registrationCode);
      if (!options.registrationCode)
        notes.push('The verification CN was not compared with a registration code (pass --registration-code).');
      if (signer)
        notes.push(
          `The file holds a verification certificate: the pipeline uses it and does not call ${signer.value}.`,
        );
    } else if (signer) {
      notes.push(
        `No verification certificate needed: the pipeline has ${signer.value} sign one. Not checked offline: that the signer exists and holds this CA's key (drop --wait or device connect --signer show it).`,
      );
    } else if (mode === 'DEFAULT') {
      throw new PipelineError(
        'VerificationCertificateMissingError',
        `${options.mode ? '--mode DEFAULT' : 'DEFAULT mode (the default, as for drop)'} needs a verification certificate: pass --verification <file>, put it after the CA in ${file}, name the KMS key or Private CA holding the CA key with --signer, or check with --mode SNI_ONLY.`,
      );
    }
    const verdict = {
      verdict: 'PASS',
      certificateId: inspection.certificateId,
      certificateMode: mode,
      subject: inspection.subject,
      issuer: inspection.issuer,
      key: inspection.key,
      signatureAlgorithm: inspection.signatureAlgorithm,
      notAfter: inspection.notAfter,
      daysLeft: daysLeft(new Date(inspection.notAfter)),
      verification: verificationPem ? 'checked' : signer ? 'signer' : 'none',
      ...(signer && !verificationPem ? { signer: signer.value } : {}),
      warnings: [...inspection.warnings, ...notes],
    };
    out.result(verdict, checkPassText(verdict));
    return 0;
  } catch (error) {
    if (!isPipelineError(error)) throw error;
    const remedy = checkRemedy(error.name, text);
    const failure = { verdict: 'FAIL', error: { name: error.name, message: error.message, remedy } };
    out.result(failure, checkFailText(failure.error));
    return 1;
  }
};
