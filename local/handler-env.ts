/** The environment the embedded stack's functions run with, as Lambda would give it to them. */
import { LOCAL_REGION, type App } from './app.ts';
import type { Endpoints } from './stack-types.ts';

/** s3rver accepts only these credentials; the SDK signs every local call with them. */
const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/**
 * Sets this process's environment, which the functions' workers copy. AWS_ENDPOINT_URL_SFN is set
 * apart, once the engines' server has started (local/stack.ts).
 */
export const setHandlerEnvironment = (app: App, endpoints: Endpoints, logLevel: string | undefined): void => {
  // POWERTOOLS_METRICS_DISABLED: EMF lines are for CloudWatch; locally they would only be noise.
  // What the handlers see, as Lambda would give them: the deployment's environment plus the
  // SDK's standard endpoint variables (no `if (local)` anywhere in functions/).
  Object.assign(process.env, app.environment, {
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_S3: endpoints.s3,
    AWS_ENDPOINT_URL_IOT: endpoints.iot,
    AWS_ENDPOINT_URL_KMS: endpoints.kms,
    AWS_ENDPOINT_URL_ACM_PCA: endpoints.pca,
    AWS_ENDPOINT_URL_EVENTBRIDGE: endpoints.events,
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: logLevel ?? process.env.IOT_CA_LOG_LEVEL ?? 'WARN',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
};
