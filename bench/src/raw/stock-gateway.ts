/**
 * What a user would otherwise run: a stock `@apollo/gateway` as Apollo's documentation sets it up, in a
 * process of its own. `ApolloGateway` over the committed supergraph (its subgraph URLs replaced by
 * `STOCK_SUBGRAPH_URLS`, JSON `{ name: url }`), `RemoteGraphQLDataSource` with its default fetcher, passing on
 * the caller's `Authorization`, and `@apollo/server`'s standalone server on `STOCK_PORT`. No plugin, cache or
 * fetcher of Phos's own.
 */
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../support/processes';

interface Context {
  authorization?: string;
}

async function main() {
  const urls = JSON.parse(process.env.STOCK_SUBGRAPH_URLS ?? '{}') as Record<string, string>;
  const gateway = new ApolloGateway({
    supergraphSdl: readFileSync(join(ROOT, 'schema', 'supergraph.graphql'), 'utf8'),
    buildService: ({ name, url }) =>
      new RemoteGraphQLDataSource<Context>({
        url: urls[name] ?? url,
        willSendRequest({ request, context }) {
          if (context.authorization) request.http?.headers.set('authorization', context.authorization);
        },
      }),
  });
  const server = new ApolloServer<Context>({ gateway });
  await startStandaloneServer(server, {
    listen: { port: Number(process.env.STOCK_PORT), host: '127.0.0.1' },
    context: async ({ req }) => ({ authorization: req.headers.authorization }),
  });
  process.send!({ type: 'ready' });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
