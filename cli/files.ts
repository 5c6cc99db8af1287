/** Reading an operator's files, and the one rule that holds before anything leaves the machine. */
import { readFileSync } from 'node:fs';
import { containsPrivateKey } from '../functions/core/pem.ts';
import { CliError } from './output.ts';

export const readText = (path: string, what: string): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new CliError(
      'FileNotFoundError',
      `Cannot read the ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
};

/** Private keys never leave the machine: refused before any upload. */
export const refuseKeys = (text: string, path: string): void => {
  if (containsPrivateKey(text)) {
    throw new CliError(
      'PrivateKeyMaterialError',
      `${path} contains private-key material; nothing was uploaded. Upload the certificate alone.`,
    );
  }
};
