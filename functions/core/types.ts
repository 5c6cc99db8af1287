export type { LoadedCertificate } from './schemas.ts';
