import { GraphQLError } from 'graphql';

/** The stable `extensions.code` values of the public contract. */
export const ErrorCode = {
  BadUserInput: 'BAD_USER_INPUT',
  EmailTaken: 'EMAIL_TAKEN',
  InvalidCredentials: 'INVALID_CREDENTIALS',
  Unauthenticated: 'UNAUTHENTICATED',
  Forbidden: 'FORBIDDEN',
  RateLimited: 'RATE_LIMITED',
  InternalServerError: 'INTERNAL_SERVER_ERROR',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An invalid argument; `field` names the input field at fault (`email`, `password`, `first`, ...). */
export function badUserInput(field: string, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.BadUserInput, field } });
}

export function clientError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { ...extensions, code } });
}

/** True for errors the client caused and may see as they are. */
export function isClientError(error: unknown): boolean {
  const code = (error as { extensions?: { code?: unknown } } | null)?.extensions?.code;
  return typeof code === 'string' && code !== ErrorCode.InternalServerError && Object.values(ErrorCode).includes(code as ErrorCode);
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for an id this system could have minted (a UUID); anything else matches no record. */
export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

/** An `ID!` argument that must be a UUID, or BAD_USER_INPUT naming `field`. */
export function requireUuid(field: string, value: string): string {
  if (!isUuid(value)) throw badUserInput(field, `${field} is not an id of this API.`);
  return value;
}
