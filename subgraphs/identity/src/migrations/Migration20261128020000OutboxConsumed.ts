import { Migration } from '@mikro-orm/migrations';

/**
 * The outbox remembers which run of Redis took each event and when every consumer group had it, so that a
 * Redis restart that lost events is made whole without an operator.
 */
export class Migration20261128020000OutboxConsumed extends Migration {
  override async up(): Promise<void> {
    const builder = this.getKnex().schema.alterTable('outbox', (table) => {
      table.string('published_to', 64).nullable();
      table.timestamp('consumed_at', { useTz: true, precision: 3 }).nullable();
    });
    for (const { sql } of builder.toSQL()) this.addSql(sql);
    // Rows published before this migration count as consumed: there was no way to tell, and replaying them all
    // on the next Redis restart would be worse than what the outbox promised then.
    this.addSql('update outbox set consumed_at = published_at where published_at is not null');
    // The relay's watch reads only published rows not yet consumed: a few, whatever the table's size.
    this.addSql('create index outbox_unconsumed_index on outbox (type, published_at) where consumed_at is null and published_at is not null');
  }

  override async down(): Promise<void> {
    this.addSql('drop index outbox_unconsumed_index');
    const builder = this.getKnex().schema.alterTable('outbox', (table) => {
      table.dropColumn('published_to');
      table.dropColumn('consumed_at');
    });
    for (const { sql } of builder.toSQL()) this.addSql(sql);
  }
}
