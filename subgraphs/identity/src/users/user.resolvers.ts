import { ErrorCode, clientError, createBatchLoader, forbidden, requireSelfOrStaff, requireUuid } from '@phos/shared';
import { createHash } from 'node:crypto';
import type { Config, RateLimiter } from '@phos/shared';
import type { Resolvers } from '../generated/graphql';
import { emailKey } from './user.validation';
import type { UserService } from './user.service';

export function createUserResolvers(users: UserService, hit: RateLimiter, limits: Config['identity']['rateLimits']): Resolvers {
  // Counted per resolver call, so every aliased attempt in one document counts.
  // The address first: an address past its limit does not use up the account's attempts.
  const limitAttempt = (action: 'login' | 'register', ip: string, email: string) =>
    hit(
      { bucket: `${action}:ip`, key: ip, rule: action === 'login' ? limits.loginPerIp : limits.registerPerIp },
      { bucket: `${action}:account`, key: createHash('sha256').update(emailKey(email)).digest('hex'), rule: action === 'login' ? limits.loginPerAccount : limits.registerPerAccount },
    );
  return {
    Query: {
      me: (_parent, _args, { caller, tokenError }) => {
        if (tokenError) throw clientError(ErrorCode.Unauthenticated, tokenError);
        return caller ? users.findById(caller.userId) : null;
      },
      user: (_parent, { id }, context) => {
        requireSelfOrStaff(context, id);
        requireUuid('id', id);
        return users.findById(id);
      },
    },
    Mutation: {
      register: async (_parent, { input }, context) => {
        // Anyone may register as a PATIENT; only an ADMIN may create staff or another ADMIN.
        if ((input.role ?? 'PATIENT') !== 'PATIENT') {
          if (context.tokenError) throw clientError(ErrorCode.Unauthenticated, context.tokenError);
          if (context.caller?.role !== 'ADMIN') throw forbidden('Only an ADMIN may register DOCTOR, NURSE or ADMIN users.');
        }
        await limitAttempt('register', context.ip, input.email);
        return users.register(input, context.trace);
      },
      login: async (_parent, { email, password }, context) => {
        await limitAttempt('login', context.ip, email);
        return users.login(email, password);
      },
    },
    User: {
      // The same rule as `user(id)`: it must hold when the subgraph is called directly, too.
      __resolveReference: (reference, context) => {
        requireSelfOrStaff(context, reference.id);
        context.loadUser ??= createBatchLoader((ids: string[]) => users.findByIds(ids));
        return context.loadUser(reference.id).then((user) => user ?? null);
      },
    },
  };
}
