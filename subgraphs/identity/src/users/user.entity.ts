import { EntitySchema } from '@mikro-orm/core';
import type { Role } from '../generated/graphql';

/** A person who can sign in. `emailKey` is the email in lower case: it alone is unique. */
export class User {
  id!: string;
  email!: string;
  emailKey!: string;
  passwordHash!: string;
  role!: Role;
  firstName!: string;
  lastName!: string;
  registeredAt!: Date;
}

export const UserSchema = new EntitySchema<User>({
  class: User,
  tableName: 'users',
  properties: {
    id: { type: 'uuid', primary: true },
    email: { type: 'string', length: 254 },
    emailKey: { type: 'string', length: 254, unique: 'users_email_key_unique' },
    passwordHash: { type: 'string', length: 255, lazy: true },
    role: { type: 'string', length: 16 },
    firstName: { type: 'string', length: 100 },
    lastName: { type: 'string', length: 100 },
    registeredAt: { type: 'datetime' },
  },
});
