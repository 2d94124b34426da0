import { Migration } from '@mikro-orm/migrations';

/** The audit log of live feeds of patient records: who watched, from when until when. */
export class Migration20261201000000CreateWatchLog extends Migration {
  override async up(): Promise<void> {
    const builder = this.getKnex().schema.createTable('watch_log', (table) => {
      table.uuid('id').primary();
      table.uuid('actor_id').notNullable();
      table.string('actor_role', 16).notNullable();
      table.string('field', 64).notNullable();
      table.timestamp('started_at', { useTz: true, precision: 3 }).notNullable();
      table.timestamp('ended_at', { useTz: true, precision: 3 }).nullable();
      table.index(['started_at'], 'watch_log_started_at_index');
    });
    for (const { sql } of builder.toSQL()) this.addSql(sql);
  }

  override async down(): Promise<void> {
    this.addSql(this.getKnex().schema.dropTable('watch_log').toQuery());
  }
}
