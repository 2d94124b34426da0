import { Migration } from '@mikro-orm/migrations';

/** The audit log of patient record reads and creations. */
export class Migration20261128020000CreateAuditLog extends Migration {
  override async up(): Promise<void> {
    const builder = this.getKnex().schema.createTable('audit_log', (table) => {
      table.uuid('id').primary();
      table.uuid('actor_id').nullable();
      table.string('actor_role', 16).notNullable();
      table.string('action', 16).notNullable();
      table.uuid('patient_id').notNullable();
      table.string('event_id', 64).nullable();
      table.timestamp('at', { useTz: true, precision: 3 }).notNullable();
      table.index(['patient_id', 'at'], 'audit_log_patient_id_at_index');
    });
    for (const { sql } of builder.toSQL()) this.addSql(sql);
  }

  override async down(): Promise<void> {
    this.addSql(this.getKnex().schema.dropTable('audit_log').toQuery());
  }
}
