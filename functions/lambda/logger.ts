import { Logger } from '@aws-lambda-powertools/logger';

/** The one logger of the functions: structured JSON, service name from POWERTOOLS_SERVICE_NAME. */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'iot-ca-pipeline' });
