import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { ErrorCode, clientError, isUuid, createUserRegisteredEvent, serializeEvent } from '@phos/shared';
import type { EventRole, Logger, Span, TokenSigner } from '@phos/shared';
import { isPostgres } from '@phos/shared/database';
import type { Database } from '@phos/shared/database';
import type { RegisterInput, Role } from '../generated/graphql';
import { OutboxEvent } from '../outbox/outbox-event.entity';
import { decoyHash, hashPassword, verifyPassword } from './password';
import { User } from './user.entity';
import { emailKey, validateRegistration } from './user.validation';

const EVENT_ROLE: Record<Role, EventRole> = { PATIENT: 'Patient', DOCTOR: 'Doctor', NURSE: 'Nurse', ADMIN: 'Admin' };

export interface AuthResult {
  token: string;
  user: User;
}

/** Registration, sign-in and look-ups of users. Each call forks its own EntityManager. */
export class UserService {
  constructor(
    private readonly orm: Database,
    private readonly tokens: TokenSigner,
    private readonly logger: Logger,
    /** Called after a registration and its event are committed (the outbox relay publishes it at once). */
    private readonly onCommitted: (event: OutboxEvent) => void = () => undefined,
  ) {}

  /** `trace` is the request's span: its `traceparent` goes into the event's metadata, so consumers continue the trace. */
  async register(input: RegisterInput, trace?: Span): Promise<AuthResult> {
    const valid = validateRegistration(input);
    // A taken email costs a hash too: the unique key decides, so the answer comes in the same time either
    // way, and concurrent registrations of one email leave exactly one user.
    const user = Object.assign(new User(), {
      id: randomUUID(),
      email: valid.email,
      emailKey: emailKey(valid.email),
      passwordHash: await hashPassword(valid.password),
      role: valid.role,
      firstName: valid.firstName,
      lastName: valid.lastName,
      registeredAt: new Date(),
    });
    const event = this.registeredEvent(user, trace);
    const stored = Object.assign(new OutboxEvent(), { id: event.id, type: event.type, body: serializeEvent(event), createdAt: new Date(event.occurredAt), publishedAt: null });
    try {
      await this.storeWithEvent(user, stored);
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException) throw this.emailTaken();
      throw error;
    }
    this.logger.info({ userId: user.id, role: user.role, eventId: event.id, traceId: trace?.traceId }, 'User registered');
    this.onCommitted(stored);
    return { token: await this.tokenFor(user), user };
  }

  async login(email: string, password: string): Promise<AuthResult> {
    const em = this.orm.em.fork();
    const user = await em.findOne(User, { emailKey: emailKey(email) }, { populate: ['passwordHash'] });
    // An unknown email costs one verification too, so both failures answer alike and in about the same time.
    const ok = await verifyPassword(user?.passwordHash ?? (await decoyHash()), password);
    if (!user || !ok) throw clientError(ErrorCode.InvalidCredentials, 'The email or password is not correct.');
    this.logger.info({ userId: user.id }, 'User signed in');
    return { token: await this.tokenFor(user), user };
  }

  findById(id: string): Promise<User | null> {
    return isUuid(id) ? this.orm.em.fork().findOne(User, { id }) : Promise.resolve(null);
  }

  async findByIds(ids: string[]): Promise<Map<string, User>> {
    const users = await this.orm.em.fork().find(User, { id: { $in: ids.filter(isUuid) } });
    return new Map(users.map((user) => [user.id, user]));
  }

  /** Creates the configured ADMIN at start-up unless a user with that email exists. */
  async ensureAdmin(admin: { email: string; password: string }): Promise<void> {
    const existing = await this.orm.em.fork().findOne(User, { emailKey: emailKey(admin.email) });
    if (existing) return;
    try {
      const { user } = await this.register({ email: admin.email, password: admin.password, firstName: 'Admin', lastName: 'Admin', role: 'ADMIN' });
      this.logger.info({ userId: user.id }, 'Created the bootstrap ADMIN user');
    } catch (error) {
      // Another replica starting at the same moment created it first.
      if ((error as { extensions?: { code?: string } }).extensions?.code !== ErrorCode.EmailTaken) throw error;
    }
  }

  /**
   * Stores the user and its event so that they commit together: the outbox relay publishes the event, even
   * after a crash. On PostgreSQL that is one statement (the user's INSERT in a data-modifying WITH), one round
   * trip with no BEGIN and COMMIT; on SQLite, a transaction of two INSERTs.
   */
  private async storeWithEvent(user: User, event: OutboxEvent): Promise<void> {
    const em = this.orm.em.fork();
    if (!isPostgres(this.orm)) {
      await em.transactional(async (tx) => {
        await tx.insert(User, user);
        await tx.insert(OutboxEvent, event);
      });
      return;
    }
    const insertUser = em.createQueryBuilder(User).insert(user).getKnexQuery().toSQL();
    const insertEvent = em.createQueryBuilder(OutboxEvent).insert(event).getKnexQuery().toSQL();
    try {
      await em.getConnection().execute(`with inserted_user as (${insertUser.sql}) ${insertEvent.sql}`, [...insertUser.bindings, ...insertEvent.bindings], 'run');
    } catch (error) {
      // A raw statement's errors come as the driver's: the unique key of users answers EMAIL_TAKEN as above.
      if ((error as { constraint?: string }).constraint === 'users_email_key_unique') throw new UniqueConstraintViolationException(error as Error);
      throw error;
    }
  }

  private registeredEvent(user: User, trace?: Span) {
    return createUserRegisteredEvent({
      userId: user.id,
      email: user.email,
      role: EVENT_ROLE[user.role],
      firstName: user.firstName,
      lastName: user.lastName,
      registeredAt: user.registeredAt.toISOString(),
      metadata: trace ? { traceparent: trace.traceparent() } : {},
    });
  }

  private tokenFor(user: User): Promise<string> {
    return this.tokens.sign({ userId: user.id, role: user.role });
  }

  private emailTaken() {
    return clientError(ErrorCode.EmailTaken, 'An account with this email already exists.', { field: 'email' });
  }
}
