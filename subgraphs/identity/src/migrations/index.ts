import { Migration20261128000000CreateUsers } from './Migration20261128000000CreateUsers';
import { Migration20261128010000CreateOutbox } from './Migration20261128010000CreateOutbox';
import { Migration20261128020000OutboxConsumed } from './Migration20261128020000OutboxConsumed';

/** identity's migrations, in order. */
export const IDENTITY_MIGRATIONS = [Migration20261128000000CreateUsers, Migration20261128010000CreateOutbox, Migration20261128020000OutboxConsumed];
