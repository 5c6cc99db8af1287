import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    // The deployment's configuration, as serverless.yml sets it, for handlers imported by tests.
    env: {
      DEFAULT_CERTIFICATE_MODE: 'DEFAULT',
      DEFAULT_TEMPLATE_NAME: 'iot-ca-test-jitp',
      DEFAULT_TAGS: 'team=platform',
      INCOMING_PREFIX: 'incoming/',
      RESULTS_PREFIX: 'results/',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      IOT_CA_LOG_LEVEL: 'SILENT',
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    },
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
