import { createBatchLoader } from '@phos/shared';
import type { PubSubEngine } from 'graphql-subscriptions';
import type { Resolvers } from '../generated/graphql';
import { Patient } from './patient.entity';
import type { PatientService } from './patient.service';

/** Where new patients are announced; a Redis channel, so subscribers on every replica receive them. */
export const PATIENT_CREATED_TOPIC = 'patients:patientcreated';

/** A patient as it travels through Redis: JSON, so the date is a string. */
type PatientMessage = Omit<Patient, 'createdAt'> & { createdAt: string };

export function fromMessage(message: PatientMessage): Patient {
  return Object.assign(new Patient(), { ...message, createdAt: new Date(message.createdAt) });
}

export function createPatientResolvers(patients: PatientService, pubsub: PubSubEngine): Resolvers {
  return {
    Query: {
      patient: (_parent, { id }) => patients.findById(id),
      patients: (_parent, { first, after }) => patients.page(first ?? 20, after),
    },
    Subscription: {
      patientCreated: {
        subscribe: () => pubsub.asyncIterableIterator<PatientMessage>(PATIENT_CREATED_TOPIC),
        resolve: (message: PatientMessage) => fromMessage(message),
      },
    },
    Patient: {
      __resolveReference: (reference, context) => {
        context.loadPatient ??= createBatchLoader((ids: string[]) => patients.findByIds(ids));
        return context.loadPatient(reference.id).then((patient) => patient ?? null);
      },
      user: (patient) => ({ id: patient.userId }),
    },
    User: {
      __resolveReference: (reference) => ({ id: reference.id }),
      patient: (user, _args, context) => {
        context.loadPatientOfUser ??= createBatchLoader((userIds: string[]) => patients.findByUserIds(userIds));
        return context.loadPatientOfUser(user.id).then((patient) => patient ?? null);
      },
    },
  };
}
