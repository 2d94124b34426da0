import { badUserInput, isUuid } from '@phos/shared';

/** A position in the newest-first order: creation time, then id to break ties. Opaque to clients. */
export interface Cursor {
  createdAt: Date;
  id: string;
}

export function encodeCursor({ createdAt, id }: Cursor): string {
  return Buffer.from(JSON.stringify([createdAt.toISOString(), id])).toString('base64url');
}

export function decodeCursor(raw: string): Cursor {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as unknown[];
    const date = new Date(createdAt as string);
    if (typeof createdAt === 'string' && typeof id === 'string' && isUuid(id) && !Number.isNaN(date.getTime())) return { createdAt: date, id };
  } catch {
    // falls through to the error below
  }
  throw badUserInput('after', 'after is not a cursor returned by this API (use pageInfo.endCursor).');
}
