import { ErrorCode, clientError, createBatchLoader, forbidden, requireSelfOrStaff } from '@phos/shared';
import type { Resolvers } from '../generated/graphql';
import type { UserService } from './user.service';

export function createUserResolvers(users: UserService): Resolvers {
  return {
    Query: {
      me: (_parent, _args, { caller, tokenError }) => {
        if (tokenError) throw clientError(ErrorCode.Unauthenticated, tokenError);
        return caller ? users.findById(caller.userId) : null;
      },
      user: (_parent, { id }, context) => {
        requireSelfOrStaff(context, id);
        return users.findById(id);
      },
    },
    Mutation: {
      register: (_parent, { input }, context) => {
        // Anyone may register as a PATIENT; only an ADMIN may create staff or another ADMIN.
        if ((input.role ?? 'PATIENT') !== 'PATIENT') {
          if (context.tokenError) throw clientError(ErrorCode.Unauthenticated, context.tokenError);
          if (context.caller?.role !== 'ADMIN') throw forbidden('Only an ADMIN may register DOCTOR, NURSE or ADMIN users.');
        }
        return users.register(input);
      },
      login: (_parent, { email, password }) => users.login(email, password),
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
