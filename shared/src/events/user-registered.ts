import { randomUUID } from 'node:crypto';
import { PoisonEventError } from './event-bus';
import { isUuid } from '../errors';

/** The type name of the event, and the Redis name it travels on (`events:` + type + `event`, lower case). */
export const USER_REGISTERED = 'UserRegistered';
export const USER_REGISTERED_CHANNEL = 'events:userregisteredevent';
/** The version this code writes, and the shape every accepted version is upgraded to. */
export const USER_REGISTERED_VERSION = 1;

export const EVENT_ROLES = ['Patient', 'Doctor', 'Nurse', 'Admin'] as const;
export type EventRole = (typeof EVENT_ROLES)[number];

export interface UserRegisteredData {
  userId: string;
  email: string;
  role: EventRole;
  firstName: string;
  lastName: string;
  /** ISO-8601, UTC. */
  registeredAt: string;
  /** Free-form string pairs that travel with the event (trace context and the like). */
  metadata: Record<string, string>;
}

export interface UserRegisteredEvent {
  /** Minted once when the event is created, unchanged on every redelivery. */
  id: string;
  type: typeof USER_REGISTERED;
  version: typeof USER_REGISTERED_VERSION;
  /** ISO-8601, UTC. */
  occurredAt: string;
  data: UserRegisteredData;
}

export function createUserRegisteredEvent(data: Omit<UserRegisteredData, 'metadata'> & { metadata?: Record<string, string> }, now = new Date()): UserRegisteredEvent {
  return {
    id: randomUUID(),
    type: USER_REGISTERED,
    version: USER_REGISTERED_VERSION,
    occurredAt: now.toISOString(),
    data: { ...data, metadata: data.metadata ?? {} },
  };
}

/** An event that can never be handled as it is: not JSON, the wrong shape, or a version nobody reads. */
export class InvalidEventError extends PoisonEventError {
  override name = 'InvalidEventError';
  constructor(
    readonly reason: string,
    /** The event's id where the body had a readable one. */
    readonly eventId?: string,
  ) {
    super(`Invalid ${USER_REGISTERED} event${eventId ? ` ${eventId}` : ''}: ${reason}`);
  }
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const isNonEmptyString = (value: unknown): value is string => typeof value === 'string' && value.trim() !== '';
const isIsoDate = (value: unknown): value is string => typeof value === 'string' && !Number.isNaN(Date.parse(value));

/**
 * Readers of each supported version, each upgrading its body to the current shape. A new version adds one
 * entry here; the listener never sees anything but {@link UserRegisteredEvent}.
 */
const readers: Record<number, (body: Json, id: string) => UserRegisteredEvent> = {
  1: (body, id) => {
    const data = body.data;
    if (!isObject(data)) throw new InvalidEventError('data is missing', id);
    for (const field of ['userId', 'email', 'firstName', 'lastName'] as const) {
      if (!isNonEmptyString(data[field])) throw new InvalidEventError(`data.${field} is missing or empty`, id);
    }
    if (!isUuid(data.userId as string)) throw new InvalidEventError('data.userId is not a UUID', id);
    if (!EVENT_ROLES.includes(data.role as EventRole)) throw new InvalidEventError(`data.role must be one of ${EVENT_ROLES.join(', ')}`, id);
    if (!isIsoDate(data.registeredAt)) throw new InvalidEventError('data.registeredAt is not an ISO-8601 date', id);
    if (!isIsoDate(body.occurredAt)) throw new InvalidEventError('occurredAt is not an ISO-8601 date', id);
    const metadata: Record<string, string> = {};
    if (isObject(data.metadata)) {
      for (const [key, value] of Object.entries(data.metadata)) if (typeof value === 'string') metadata[key] = value;
    }
    return {
      id,
      type: USER_REGISTERED,
      version: USER_REGISTERED_VERSION,
      occurredAt: new Date(body.occurredAt as string).toISOString(),
      data: {
        userId: data.userId as string,
        email: data.email as string,
        role: data.role as EventRole,
        firstName: data.firstName as string,
        lastName: data.lastName as string,
        registeredAt: new Date(data.registeredAt as string).toISOString(),
        metadata,
      },
    };
  },
};

/** Parses and validates a raw event body (a string, a Buffer or parsed JSON). Throws {@link InvalidEventError}. */
export function parseUserRegistered(raw: unknown): UserRegisteredEvent {
  let body: unknown = raw;
  if (Buffer.isBuffer(body)) body = body.toString('utf8');
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      throw new InvalidEventError('the body is not JSON');
    }
  }
  if (!isObject(body)) throw new InvalidEventError('the body is not a JSON object');
  const id = isNonEmptyString(body.id) ? body.id : undefined;
  if (id === undefined) throw new InvalidEventError('id is missing');
  if (body.type !== USER_REGISTERED) throw new InvalidEventError(`type must be ${USER_REGISTERED}`, id);
  const read = typeof body.version === 'number' ? readers[body.version] : undefined;
  if (!read) throw new InvalidEventError(`version ${JSON.stringify(body.version)} is not supported (supported: ${Object.keys(readers).join(', ')})`, id);
  return read(body, id);
}

/** Serializes an event for the outbox and the wire: once, so every redelivery carries the same bytes. */
export function serializeEvent(event: UserRegisteredEvent): string {
  return JSON.stringify(event);
}
