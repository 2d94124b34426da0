import { Migration } from '@mikro-orm/migrations';

/** Event ids whose effect is committed, for exactly-once effects under at-least-once delivery. */
export class Migration20261128010000CreateProcessedEvents extends Migration {
  override async up(): Promise<void> {
    const builder = this.getKnex().schema.createTable('processed_events', (table) => {
      table.string('id', 64).primary();
      table.timestamp('processed_at', { useTz: true, precision: 3 }).notNullable();
    });
    for (const { sql } of builder.toSQL()) this.addSql(sql);
  }

  override async down(): Promise<void> {
    this.addSql(this.getKnex().schema.dropTable('processed_events').toQuery());
  }
}
