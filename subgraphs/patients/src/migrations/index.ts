import { Migration20261128000000CreatePatients } from './Migration20261128000000CreatePatients';
import { Migration20261128010000CreateProcessedEvents } from './Migration20261128010000CreateProcessedEvents';
import { Migration20261128020000CreateAuditLog } from './Migration20261128020000CreateAuditLog';

/** patients' migrations, in order. */
export const PATIENTS_MIGRATIONS = [Migration20261128000000CreatePatients, Migration20261128010000CreateProcessedEvents, Migration20261128020000CreateAuditLog];
