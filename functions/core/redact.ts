const PRIVATE_KEY_BLOCK = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;

/** Last line of defence for anything written out: a private-key block never leaves a function. */
export const redactKeyMaterial = (text: string): string => text.replace(PRIVATE_KEY_BLOCK, '[REDACTED PRIVATE KEY]');
