import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { TransientEventError, USER_REGISTERED_CHANNEL, parseUserRegistered } from '@phos/shared';
import type { Config, EventBus, EventConsumer, Logger } from '@phos/shared';
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
  onPatientCreated: (patient: Patient) => Promise<void>;
}): Promise<EventConsumer> {
  const { events, patients, logger, config, onPatientCreated } = options;
  return events.consume({
    stream: USER_REGISTERED_CHANNEL,
    group: PATIENTS_GROUP,
    consumer: `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    maxDeliveries: config.maxDeliveries,
    claimIdleMs: config.claimIdleMs,
    retryBaseMs: config.retryBaseMs,
    handle: async (entry) => {
      const event = parseUserRegistered(entry.body);
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
      await onPatientCreated(patient!).catch((error: unknown) =>
        logger.error({ eventId: event.id, patientId: patient!.id, err: { message: (error as Error).message } }, 'Failed to announce the new patient to subscribers'),
      );
    },
  });
}
