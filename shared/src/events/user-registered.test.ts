import { InvalidEventError, createUserRegisteredEvent, parseUserRegistered } from './user-registered';

const valid = () =>
  createUserRegisteredEvent({
    userId: '6f1c0d7e-3b0a-4c52-9d2e-7a1b2c3d4e5f',
    email: 'a@example.org',
    role: 'Patient',
    firstName: 'Ada',
    lastName: 'Lovelace',
    registeredAt: '2026-11-28T09:30:00.000Z',
  });

describe('parseUserRegistered', () => {
  it('reads a version 1 body from a string, a Buffer or parsed JSON', () => {
    const event = valid();
    for (const raw of [JSON.stringify(event), Buffer.from(JSON.stringify(event)), JSON.parse(JSON.stringify(event))]) {
      expect(parseUserRegistered(raw)).toEqual(event);
    }
  });

  it('keeps only string metadata', () => {
    const body = { ...valid(), data: { ...valid().data, metadata: { traceparent: '00-abc', n: 1 } } };
    expect(parseUserRegistered(JSON.stringify(body)).data.metadata).toEqual({ traceparent: '00-abc' });
  });

  const reason = (raw: unknown) => {
    try {
      parseUserRegistered(raw);
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidEventError);
      return { reason: (error as InvalidEventError).reason, eventId: (error as InvalidEventError).eventId };
    }
    throw new Error('accepted');
  };

  it.each([
    ['not JSON', 'not json {', /not JSON/],
    ['a JSON array', '[]', /not a JSON object/],
    ['no id', JSON.stringify({ ...valid(), id: undefined }), /id is missing/],
  ])('refuses %s without an event id', (_name, raw, pattern) => {
    const { reason: why, eventId } = reason(raw);
    expect(why).toMatch(pattern);
    expect(eventId).toBeUndefined();
  });

  it.each([
    ['another type', { type: 'UserDeleted' }, /type/],
    ['version 99', { version: 99 }, /version 99 is not supported/],
    ['a string version', { version: '1' }, /version "1"/],
    ['no data', { data: undefined }, /data is missing/],
    ['no userId', { data: { ...valid().data, userId: '' } }, /data.userId/],
    ['a userId that is no UUID', { data: { ...valid().data, userId: "1'; drop table patients; --" } }, /data.userId is not a UUID/],
    ['no email', { data: { ...valid().data, email: undefined } }, /data.email/],
    ['a lower-case role', { data: { ...valid().data, role: 'patient' } }, /data.role/],
    ['a bad registeredAt', { data: { ...valid().data, registeredAt: 'yesterday' } }, /registeredAt/],
    ['a bad occurredAt', { occurredAt: 12 }, /occurredAt/],
  ])('refuses %s, naming the event id', (_name, override, pattern) => {
    const event = { ...valid(), ...override };
    const { reason: why, eventId } = reason(JSON.stringify(event));
    expect(why).toMatch(pattern);
    expect(eventId).toBe(event.id);
  });
});
