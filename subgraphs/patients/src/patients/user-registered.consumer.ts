import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { TransientEventError, USER_REGISTERED, USER_REGISTERED_CHANNEL, createIdOnlyTracer, loggableError, parseTraceparent, parseUserRegistered, waitAtMost } from '@phos/shared';
import { isDatabaseOutage } from '@phos/shared/database';
import type { Config, ConsumerObserver, EventBus, EventConsumer, Logger, Span, Tracer, UserRegisteredEvent } from '@phos/shared';
import type { Patient } from './patient.entity';
import type { PatientService } from './patient.service';

/** How long `stop` waits for announcements under way. */
const ANNOUNCE_STOP_TIMEOUT_MS = 3000;

/** The consumer group of the patients subgraph: each event is handled by exactly one of its replicas. */
export const PATIENTS_GROUP = 'patients';

/**
 * Consumes UserRegistered events from the durable stream and creates the patient record of every user
 * registered with the Patient role, then announces it to `patientCreated` subscribers. Malformed events are
 * dead-lettered at once; a database outage is retried until the database is back.
 */
export async function consumeUserRegistered(options: {
  events: EventBus;
  patients: PatientService;
  logger: Logger;
  config: Config['patients'];
  /** Announces a new patient; `trace` is the span of the event's handling (its traceparent travels on). */
  onPatientCreated: (patient: Patient, trace: Span) => Promise<void>;
  /** Told of each event's outcome (metrics). */
  observer?: ConsumerObserver;
  /** Each event is handled in a span, child of the `traceparent` in its metadata. Default: ids only. */
  tracer?: Tracer;
}): Promise<EventConsumer> {
  const { events, patients, config, onPatientCreated } = options;
  const tracer = options.tracer ?? createIdOnlyTracer();
  /** Each event is handled in a span, child of the `traceparent` in its metadata. */
  const startSpan = (event: UserRegisteredEvent) =>
    tracer.startSpan(`process ${USER_REGISTERED}`, {
      parent: parseTraceparent(event.data.metadata.traceparent),
      kind: 'consumer',
      attributes: { 'messaging.system': 'redis', 'messaging.destination.name': USER_REGISTERED_CHANNEL, 'messaging.message.id': event.id },
    });

  /** Announcements under way: `stop` lets them finish. */
  const announcing = new Set<Promise<void>>();
  /**
   * Logs the new patient and announces it to subscribers; a failed announcement is logged, not retried. The
   * event is acknowledged without waiting for the announcement's answer: the `PUBLISH` and the `XACK` leave
   * together, in that order on one connection, and one round trip to Redis serves both.
   */
  const announce = (event: UserRegisteredEvent, patient: Patient, span: Span): void => {
    const logger = options.logger.child({ traceId: span.traceId });
    logger.info({ eventId: event.id, userId: patient.userId, patientId: patient.id }, `Successfully created patient record ${patient.id} for user ${patient.userId}`);
    const sent: Promise<void> = onPatientCreated(patient, span)
      .then(
        () => logger.info({ eventId: event.id, patientId: patient.id }, 'Announced the new patient to patientCreated subscribers'),
        (error: unknown) => logger.error({ eventId: event.id, patientId: patient.id, err: { message: (error as Error).message } }, 'Failed to announce the new patient to subscribers'),
      )
      .finally(() => announcing.delete(sent));
    announcing.add(sent);
  };

  const isPatient = (event: UserRegisteredEvent, span: Span) => {
    if (event.data.role === 'Patient') return true;
    options.logger.debug({ traceId: span.traceId, eventId: event.id, userId: event.data.userId, role: event.data.role }, 'No patient record for this role');
    return false;
  };

  const nothingCreated = (event: UserRegisteredEvent, span: Span) =>
    options.logger.info({ traceId: span.traceId, eventId: event.id, userId: event.data.userId }, 'Event already applied or user already has a patient; nothing created');

  const consumer = await events.consume({
    stream: USER_REGISTERED_CHANNEL,
    group: PATIENTS_GROUP,
    consumer: `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    maxDeliveries: config.maxDeliveries,
    claimIdleMs: config.claimIdleMs,
    retryBaseMs: config.retryBaseMs,
    observer: options.observer,
    // The consumer's own lines (retries, dead letters) carry the trace of the registration, when it can be read.
    traceIdOf: (entry) => {
      try {
        return parseTraceparent((JSON.parse(entry.body) as { data?: { metadata?: { traceparent?: unknown } } })?.data?.metadata?.traceparent as string | undefined)?.traceId;
      } catch {
        return undefined;
      }
    },
    handle: async (entry) => {
      const event = parseUserRegistered(entry.body);
      const span = startSpan(event);
      try {
        if (isPatient(event, span)) {
          let patient;
          try {
            patient = await patients.createFromEvent(event);
          } catch (error) {
            // The database down, full, read-only or locked: wait for it, however long. Anything else counts
            // towards the event's deliveries, and a dead letter in the end.
            if (isDatabaseOutage(error)) throw new TransientEventError(`the patients database cannot store patients now (${loggableError(error).message})`);
            if (!(await patients.databaseAnswers())) throw new TransientEventError('the patients database does not answer');
            throw error;
          }
          if (patient) announce(event, patient, span);
          else nothingCreated(event, span);
        }
        span.end();
      } catch (error) {
        span.end(error);
        throw error;
      }
    },
    // A backlog: one transaction for the whole read. Any failure (a poison event, the database) hands the
    // entries to `handle`, one by one.
    handleBatch: async (entries) => {
      const events = entries.map((entry) => parseUserRegistered(entry.body));
      const spans = events.map(startSpan);
      const patientEvents = new Set(events.filter((event, index) => isPatient(event, spans[index]!)));
      let created;
      try {
        created = await patients.createFromEvents([...patientEvents]);
      } catch (error) {
        for (const span of spans) span.end(error);
        throw error;
      }
      const patientOf = new Map(created.map(({ event, patient }) => [event, patient]));
      events.forEach((event, index) => {
        const span = spans[index]!;
        const patient = patientOf.get(event);
        if (patient) announce(event, patient, span);
        else if (patientEvents.has(event)) nothingCreated(event, span);
        span.end();
      });
    },
  });
  return {
    stats: () => consumer.stats(),
    async stop() {
      await consumer.stop();
      // Announcements under way get a moment to finish; one that does not (Redis away) is lost, as any
      // announcement published while Redis is away: the patient itself is stored, and its event acknowledged.
      await waitAtMost(Promise.all(announcing), ANNOUNCE_STOP_TIMEOUT_MS);
    },
  };
}
