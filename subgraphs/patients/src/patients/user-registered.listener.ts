import { InvalidEventError, USER_REGISTERED_CHANNEL, parseUserRegistered } from '@phos/shared';
import type { EventBus, EventSubscription, Logger } from '@phos/shared';
import type { Patient } from './patient.entity';
import type { PatientService } from './patient.service';

/**
 * Listens for UserRegistered events and creates the patient record of every user registered with the
 * Patient role, then announces it to `patientCreated` subscribers. A malformed event is logged and skipped;
 * the listener keeps going.
 */
export async function listenForUserRegistered(options: {
  events: EventBus;
  patients: PatientService;
  logger: Logger;
  onPatientCreated: (patient: Patient) => Promise<void>;
}): Promise<EventSubscription> {
  const { events, patients, logger, onPatientCreated } = options;
  return events.subscribe(USER_REGISTERED_CHANNEL, async (body) => {
    let event;
    try {
      event = parseUserRegistered(body);
    } catch (error) {
      if (!(error instanceof InvalidEventError)) throw error;
      logger.warn({ eventId: error.eventId, reason: error.reason }, 'Skipped a malformed UserRegistered event');
      return;
    }
    const { userId, role } = event.data;
    if (role !== 'Patient') {
      logger.debug({ eventId: event.id, userId, role }, 'No patient record for this role');
      return;
    }
    try {
      const { patient, created } = await patients.createFromEvent(event);
      if (!created) {
        logger.info({ eventId: event.id, userId, patientId: patient.id }, 'Patient record already exists for this user; nothing created');
        return;
      }
      logger.info({ eventId: event.id, userId, patientId: patient.id }, `Successfully created patient record ${patient.id} for user ${userId}`);
      await onPatientCreated(patient).catch((error: unknown) =>
        logger.error({ eventId: event.id, patientId: patient.id, err: { message: (error as Error).message } }, 'Failed to announce the new patient to subscribers'),
      );
    } catch (error) {
      logger.error({ eventId: event.id, userId, err: error }, 'Failed to create the patient record');
    }
  });
}
