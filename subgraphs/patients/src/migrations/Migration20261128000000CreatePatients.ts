import { Migration } from '@mikro-orm/migrations';

/** The patients table; written with the schema builder so it runs on SQLite and PostgreSQL alike. */
export class Migration20261128000000CreatePatients extends Migration {
  override async up(): Promise<void> {
    const builder = this.getKnex().schema.createTable('patients', (table) => {
      table.uuid('id').primary();
      table.uuid('user_id').notNullable().unique({ indexName: 'patients_user_id_unique' });
      table.string('email', 254).notNullable();
      table.string('first_name', 100).notNullable();
      table.string('last_name', 100).notNullable();
      table.timestamp('created_at', { useTz: true, precision: 3 }).notNullable();
      table.index(['created_at', 'id'], 'patients_created_at_id_index');
    });
    for (const { sql } of builder.toSQL()) this.addSql(sql);
  }

  override async down(): Promise<void> {
    this.addSql(this.getKnex().schema.dropTable('patients').toQuery());
  }
}
