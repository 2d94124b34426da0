import { Migration } from '@mikro-orm/migrations';

/** The transactional outbox of identity's events. */
export class Migration20261128010000CreateOutbox extends Migration {
  override async up(): Promise<void> {
    const builder = this.getKnex().schema.createTable('outbox', (table) => {
      table.uuid('id').primary();
      table.string('type', 64).notNullable();
      table.text('body').notNullable();
      table.timestamp('created_at', { useTz: true, precision: 3 }).notNullable();
      table.timestamp('published_at', { useTz: true, precision: 3 }).nullable();
      table.index(['published_at', 'created_at'], 'outbox_published_at_created_at_index');
    });
    for (const { sql } of builder.toSQL()) this.addSql(sql);
  }

  override async down(): Promise<void> {
    this.addSql(this.getKnex().schema.dropTable('outbox').toQuery());
  }
}
