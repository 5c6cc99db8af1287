/**
 * What the deployed bundles use instead of `@aws-sdk/credential-provider-node` (esbuild aliases it
 * here; see build/esbuild-plugins.cjs). Lambda hands a function its role's credentials in the
 * environment, or, where it runs functions in containers, at a container credentials endpoint; the
 * default chain's SSO, shared-file, process and web-identity providers (and the STS/SSO clients
 * they carry) can never apply there, yet made up 119 KB of every bundle. The local stack and the
 * CLI run from source and keep the SDK's full default chain.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';
import { fromHttp } from '@aws-sdk/credential-provider-http';
import { chain } from '@smithy/core/config';

type Init = Parameters<typeof fromEnv>[0] & Parameters<typeof fromHttp>[0];

export const defaultProvider = (init: Init = {}) =>
  // fromHttp throws at once when no endpoint is configured: built lazily, it is only tried after env.
  chain(fromEnv(init), async () => fromHttp(init)());
