import type { GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GatewayContext } from './context';
import { createSubgraphFetcher } from './fetcher';
import { AuthForwardingDataSource } from './subgraphs';

/** A subgraph stand-in on a free port: answers each request with `answer`, and counts connections. */
async function subgraph(answer: (req: IncomingMessage, body: string, res: ServerResponse) => void) {
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => answer(req, body, res));
  });
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  return {
    url,
    connections: () => connections,
    close: () => new Promise<void>((closed) => server.close(() => closed())),
  };
}

function operation(query: string, context: GatewayContext = {}) {
  return {
    kind: 'incoming operation',
    request: { query, variables: { first: 2 } },
    incomingRequestContext: { context, request: {} },
    context,
  } as unknown as GraphQLDataSourceProcessOptions<GatewayContext>;
}

describe('the gateway fetcher', () => {
  const fetcher = createSubgraphFetcher();
  afterAll(() => fetcher.close());

  it('posts the operation with the caller’s headers and reads the JSON answer, over kept-alive connections', async () => {
    const seen: { method?: string; authorization?: string; contentType?: string; body: unknown }[] = [];
    const server = await subgraph((req, body, res) => {
      seen.push({ method: req.method, authorization: req.headers.authorization, contentType: req.headers['content-type'], body: JSON.parse(body) });
      res.writeHead(200, { 'Content-Type': 'application/graphql-response+json; charset=utf-8' });
      res.end(JSON.stringify({ data: { patients: { total: seen.length } } }));
    });
    try {
      const dataSource = new AuthForwardingDataSource({ url: server.url, fetcher });
      const first = await dataSource.process(operation('query Q($first: Int) { patients(first: $first) { total } }', { authorization: 'Bearer t' }));
      const second = await dataSource.process(operation('query Q($first: Int) { patients(first: $first) { total } }', { authorization: 'Bearer u' }));
      expect(first.data).toEqual({ patients: { total: 1 } });
      expect(second.data).toEqual({ patients: { total: 2 } });
      expect(seen).toEqual([
        { method: 'POST', authorization: 'Bearer t', contentType: 'application/json', body: { query: 'query Q($first: Int) { patients(first: $first) { total } }', variables: { first: 2 } } },
        { method: 'POST', authorization: 'Bearer u', contentType: 'application/json', body: expect.objectContaining({ variables: { first: 2 } }) },
      ]);
      // Connections are reused: undici hands a socket back a moment after the body's end, so a request sent
      // at once may open a second one, and the two then take turns.
      for (let i = 0; i < 4; i++) await dataSource.process(operation('{ a }'));
      expect(server.connections()).toBeLessThanOrEqual(2);
    } finally {
      await server.close();
    }
  });

  it('turns a non-2xx answer into the error Apollo’s own fetch gives: status, status text and body', async () => {
    const server = await subgraph((_req, _body, res) => {
      res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end('upstream is restarting');
    });
    try {
      const dataSource = new AuthForwardingDataSource({ url: server.url, fetcher });
      const failure = await dataSource.process(operation('{ a }')).then(
        () => undefined,
        (error: unknown) => error as { message: string; extensions: { response: Record<string, unknown> } },
      );
      expect(failure?.message).toBe('502: Bad Gateway');
      expect(failure?.extensions.response).toEqual({ url: server.url, status: 502, statusText: 'Bad Gateway', body: 'upstream is restarting' });
    } finally {
      await server.close();
    }
  });

  it('rejects when the subgraph does not answer at all, naming the cause', async () => {
    const server = await subgraph(() => undefined);
    const url = server.url;
    await server.close();
    await expect(fetcher(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).rejects.toThrow(/ECONNREFUSED/);
  });

  it('reads headers by any case and a body once', async () => {
    const server = await subgraph((_req, _body, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'max-age=5, private' });
      res.end('{"data":{}}');
    });
    try {
      const response = await fetcher(server.url, { method: 'POST', body: '{}' });
      expect(response.headers.get('cache-control')).toBe('max-age=5, private');
      expect(response.headers.get('CONTENT-TYPE')).toBe('application/json');
      expect(await response.json()).toEqual({ data: {} });
      expect(response.bodyUsed).toBe(true);
      await expect(response.text()).rejects.toThrow(/already been read/);
    } finally {
      await server.close();
    }
  });
});
