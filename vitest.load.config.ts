import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

// `npm run test:load`: the long suites, kept out of `npm test`; .ci/run runs both.
export default defineConfig({
  ...base,
  test: { ...base.test, include: ['test/load/**/*.load.ts'], testTimeout: 1_800_000 },
});
