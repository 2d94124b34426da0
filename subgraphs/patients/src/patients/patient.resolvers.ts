import { createBatchLoader, requireUuid, forbidden, isStaff, requireCaller, requireSelfOrStaff, requireStaff } from '@phos/shared';
import type { Context } from '../context';
import type { Resolvers } from '../generated/graphql';
import { Patient } from './patient.entity';
import type { PatientService } from './patient.service';
import { SharedTopic } from './shared-execution';

/**
 * Where new patients are announced: a Redis channel, so subscribers on every replica receive them. Redis
 * keeps keys and streams apart per database, but PUB/SUB channels are one namespace for the whole server, so
 * a deployment on another database than 0 announces on a channel of its own (`…@<db>`): two deployments
 * sharing a Redis server on different databases never see each other's patients.
 */
export function patientCreatedTopic(db: number): string {
  return db === 0 ? 'patients:patientcreated' : `patients:patientcreated@${db}`;
}

/** A patient as it travels through Redis: JSON, so the date is a string; with the trace that created it. */
export type PatientMessage = Omit<Patient, 'createdAt'> & { createdAt: string; traceparent?: string };

/** The message announcing a new patient, carrying the `traceparent` of the work that created it. */
export function toMessage(patient: Patient, traceparent?: string): PatientMessage {
  const { id, userId, email, firstName, lastName, createdAt } = patient;
  return { id, userId, email, firstName, lastName, createdAt: createdAt.toISOString(), ...(traceparent ? { traceparent } : {}) };
}

export function fromMessage(message: PatientMessage): Patient {
  const { traceparent: _traceparent, ...patient } = message;
  return Object.assign(new Patient(), { ...patient, createdAt: new Date(message.createdAt) });
}

export function createPatientResolvers(patients: PatientService, topic: string): Resolvers {
  /** A PATIENT reads only their own record (any other id, existing or not, is FORBIDDEN); staff read any. */
  const readPatient = async (context: Context, id: string): Promise<Patient | null> => {
    const caller = requireCaller(context);
    context.loadPatient ??= createBatchLoader((ids: string[]) => patients.findByIds(ids));
    const patient = (await context.loadPatient(id)) ?? null;
    if (!isStaff(caller) && patient?.userId !== caller.userId) throw forbidden('A PATIENT may read only their own record.');
    if (patient) await patients.recordReads(caller, [patient]);
    return patient;
  };
  return {
    Query: {
      patient: (_parent, { id }, context) => {
        requireCaller(context);
        return readPatient(context, requireUuid('id', id));
      },
      patients: async (_parent, { first, after }, context) => {
        const caller = requireStaff(context);
        const page = await patients.page(first ?? 20, after);
        await patients.recordReads(caller, page.edges.map((edge) => edge.node));
        return page;
      },
    },
    Subscription: {
      patientCreated: {
        subscribe: async (_parent, _args, context) => {
          const caller = requireStaff(context);
          // Audited as a watch, from start to end: every patient created in between reaches this caller.
          const watch = await patients.recordWatchStart(caller, 'patientCreated');
          // Served by the shared subscribe (server.ts): one execution per event for all alike subscribers.
          return new SharedTopic(topic, caller.expiresAt, () => patients.recordWatchEnd(watch));
        },
        resolve: (message: PatientMessage) => fromMessage(message),
      },
    },
    PatientConnection: {
      totalCount: (page) => page.count(),
    },
    Patient: {
      // The same rule as `patient(id)`: it must hold when the subgraph is called directly, too.
      __resolveReference: (reference, context) => readPatient(context, reference.id),
      user: (patient) => ({ id: patient.userId }),
    },
    User: {
      __resolveReference: (reference) => ({ id: reference.id }),
      patient: async (user, _args, context) => {
        const caller = requireSelfOrStaff(context, user.id);
        context.loadPatientOfUser ??= createBatchLoader((userIds: string[]) => patients.findByUserIds(userIds));
        const patient = (await context.loadPatientOfUser(user.id)) ?? null;
        if (patient) await patients.recordReads(caller, [patient]);
        return patient;
      },
    },
  };
}
