import { Migration } from '@mikro-orm/migrations';

/** The users table; written with the schema builder so it runs on SQLite and PostgreSQL alike. */
export class Migration20261128000000CreateUsers extends Migration {
  override async up(): Promise<void> {
    const builder = this.getKnex().schema.createTable('users', (table) => {
      table.uuid('id').primary();
      table.string('email', 254).notNullable();
      table.string('email_key', 254).notNullable().unique({ indexName: 'users_email_key_unique' });
      table.string('password_hash', 255).notNullable();
      table.string('role', 16).notNullable();
      table.string('first_name', 100).notNullable();
      table.string('last_name', 100).notNullable();
      table.timestamp('registered_at', { useTz: true, precision: 3 }).notNullable();
    });
    for (const { sql } of builder.toSQL()) this.addSql(sql);
  }

  override async down(): Promise<void> {
    this.addSql(this.getKnex().schema.dropTable('users').toQuery());
  }
}
