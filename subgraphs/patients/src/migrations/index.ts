import { Migration20261128000000CreatePatients } from './Migration20261128000000CreatePatients';
import { Migration20261128010000CreateProcessedEvents } from './Migration20261128010000CreateProcessedEvents';
import { Migration20261128020000CreateAuditLog } from './Migration20261128020000CreateAuditLog';
import { Migration20261201000000CreateWatchLog } from './Migration20261201000000CreateWatchLog';

/** patients' migrations, in order. */
export const PATIENTS_MIGRATIONS = [Migration20261128000000CreatePatients, Migration20261128010000CreateProcessedEvents, Migration20261128020000CreateAuditLog, Migration20261201000000CreateWatchLog];
