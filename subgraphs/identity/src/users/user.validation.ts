import { badUserInput } from '@phos/shared';
import type { RegisterInput, Role } from '../generated/graphql';

export const EMAIL_MAX_LENGTH = 254;
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;
export const NAME_MAX_LENGTH = 100;

// One @, a non-empty local part and a dotted domain, no spaces, control or invisible format characters (a
// zero-width space would make a look-alike of another address): strict enough to catch typos, loose enough for
// every address a mail server accepts in practice.
const EMAIL_PATTERN = /^[^\s@\p{Cc}\p{Cf}]+@[^\s@\p{Cc}\p{Cf}.]+(\.[^\s@\p{Cc}\p{Cf}.]+)+$/u;

/** The key an email is unique by: emails compare case-insensitively. */
export function emailKey(email: string): string {
  return email.trim().toLowerCase();
}

export function validateEmail(raw: string): string {
  const email = raw.trim();
  // The key it is unique by too: a few letters grow in lower case ('İ' becomes two).
  if (email.length > EMAIL_MAX_LENGTH || emailKey(email).length > EMAIL_MAX_LENGTH) throw badUserInput('email', `Email must be at most ${EMAIL_MAX_LENGTH} characters.`);
  if (!EMAIL_PATTERN.test(email)) throw badUserInput('email', 'Email is not a valid address, e.g. name@example.org.');
  return email;
}

export function validatePassword(password: string): string {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH || length > PASSWORD_MAX_LENGTH) {
    throw badUserInput('password', `Password must be ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters.`);
  }
  return password;
}

function validateName(field: 'firstName' | 'lastName', raw: string): string {
  const name = raw.trim();
  const length = [...name].length;
  if (length < 1 || length > NAME_MAX_LENGTH || /\p{Cc}/u.test(name)) {
    throw badUserInput(field, `${field} must be 1 to ${NAME_MAX_LENGTH} characters after trimming, without control characters.`);
  }
  return name;
}

/** Validates every field of a registration, in the order of the input type; returns the trimmed values. */
export interface ValidRegistration {
  email: string;
  password: string;
  firstName: string;
  lastName: string;
  role: Role;
}

export function validateRegistration(input: RegisterInput): ValidRegistration {
  return {
    email: validateEmail(input.email),
    password: validatePassword(input.password),
    firstName: validateName('firstName', input.firstName),
    lastName: validateName('lastName', input.lastName),
    role: input.role ?? 'PATIENT',
  };
}
