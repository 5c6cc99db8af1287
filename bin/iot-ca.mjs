#!/usr/bin/env node
// Runs the TypeScript CLI straight after `npm ci`, with no build step.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { register } = await import('tsx/esm/api');
register();
await import('../cli/main.ts');
