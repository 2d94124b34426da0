import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { TransientEventError, USER_REGISTERED, USER_REGISTERED_CHANNEL, createIdOnlyTracer, parseTraceparent, parseUserRegistered } from '@phos/shared';
import type { Config, ConsumerObserver, EventBus, EventConsumer, Logger, Span, Tracer } from '@phos/shared';
import type { Patient } from './patient.entity';
import type { PatientService } from './patient.service';

/** The consumer group of the patients subgraph: each event is handled by exactly one of its replicas. */
export const PATIENTS_GROUP = 'patients';

/**
 * Consumes UserRegistered events from the durable stream and creates the patient record of every user
 * registered with the Patient role, then announces it to `patientCreated` subscribers. Malformed events are
 * dead-lettered at once; a database outage is retried until the database is back.
 */
export function consumeUserRegistered(options: {
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
  return events.consume({
    stream: USER_REGISTERED_CHANNEL,
    group: PATIENTS_GROUP,
    consumer: `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    maxDeliveries: config.maxDeliveries,
    claimIdleMs: config.claimIdleMs,
    retryBaseMs: config.retryBaseMs,
    observer: options.observer,
    handle: async (entry) => {
      const event = parseUserRegistered(entry.body);
      const span = tracer.startSpan(`process ${USER_REGISTERED}`, {
        parent: parseTraceparent(event.data.metadata.traceparent),
        kind: 'consumer',
        attributes: { 'messaging.system': 'redis', 'messaging.destination.name': USER_REGISTERED_CHANNEL, 'messaging.message.id': event.id },
      });
      try {
        await handleEvent(event, span, options.logger.child({ traceId: span.traceId }));
        span.end();
      } catch (error) {
        span.end(error);
        throw error;
      }
    },
  });

  async function handleEvent(event: ReturnType<typeof parseUserRegistered>, span: Span, logger: Logger): Promise<void> {
    const { userId, role } = event.data;
    if (role !== 'Patient') {
      logger.debug({ eventId: event.id, userId, role }, 'No patient record for this role');
      return;
    }
    let result;
    try {
      result = await patients.createFromEvent(event);
    } catch (error) {
      if (!(await patients.databaseAnswers())) throw new TransientEventError('the patients database does not answer');
      throw error;
    }
    const { patient, created } = result;
    if (!created) {
      logger.info({ eventId: event.id, userId, patientId: patient?.id }, 'Event already applied or user already has a patient; nothing created');
      return;
    }
    logger.info({ eventId: event.id, userId, patientId: patient!.id }, `Successfully created patient record ${patient!.id} for user ${userId}`);
    await onPatientCreated(patient!, span).then(
      () => logger.info({ eventId: event.id, patientId: patient!.id }, 'Announced the new patient to patientCreated subscribers'),
      (error: unknown) => logger.error({ eventId: event.id, patientId: patient!.id, err: { message: (error as Error).message } }, 'Failed to announce the new patient to subscribers'),
    );
  }
}
