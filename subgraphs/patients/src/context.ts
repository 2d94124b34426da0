import type { Caller } from '@phos/shared';
import type { Patient } from './patients/patient.entity';
import type { Delivery } from './patients/shared-execution';

/** Per-request (or per-WebSocket-operation) context of the patients subgraph. */
export interface Context {
  /** The verified caller, or null when anonymous or when the token was not valid. */
  caller: Caller | null;
  /** Why the token sent was refused, when one was sent and refused. */
  tokenError?: string;
  /** On a graphql-ws subscription: its socket and id, where its events are written. */
  delivery?: Delivery;
  /** The request's batch loaders, created on first use. */
  loadPatient?: (id: string) => Promise<Patient | undefined>;
  loadPatientOfUser?: (userId: string) => Promise<Patient | undefined>;
}
