import { ErrorCode, clientError, createBatchLoader } from '@phos/shared';
import type { Resolvers } from '../generated/graphql';
import type { UserService } from './user.service';

export function createUserResolvers(users: UserService): Resolvers {
  return {
    Query: {
      me: (_parent, _args, { caller, tokenError }) => {
        if (tokenError) throw clientError(ErrorCode.Unauthenticated, tokenError);
        return caller ? users.findById(caller.userId) : null;
      },
      user: (_parent, { id }) => users.findById(id),
    },
    Mutation: {
      register: (_parent, { input }) => users.register(input),
      login: (_parent, { email, password }) => users.login(email, password),
    },
    User: {
      __resolveReference: (reference, context) => {
        context.loadUser ??= createBatchLoader((ids: string[]) => users.findByIds(ids));
        return context.loadUser(reference.id).then((user) => user ?? null);
      },
    },
  };
}
