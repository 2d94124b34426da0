import { GraphQLError, Kind, getVariableValues } from 'graphql';
import type { ExecutionArgs, ExecutionResult, FormattedExecutionResult, FragmentDefinitionNode, GraphQLFormattedError, SelectionSetNode } from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import { ErrorCode, closeWebSockets, endAtExpiry, requireCaller, requireStaff, serveGraphQLWs } from '@phos/shared';
import type { CallerContext, Logger } from '@phos/shared';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type WebSocket from 'ws';
import type { GatewayContext } from '../context';
import type { SubscriptionHub } from './subscription-hub';
import type { PreparedOperation, SupergraphSnapshot } from './supergraph-snapshot';

/** A query or mutation as it arrived over the WebSocket. */
export interface WebSocketOperation {
  query: string;
  operationName?: string;
  variables?: Record<string, unknown>;
}

export interface GatewayWebSocketServerOptions {
  /** The gateway's HTTP server: WebSockets share its port. */
  server: Server;
  /** The paths that accept graphql-ws upgrades (`/graphql`, and `/` for Sandbox); other paths get 404. */
  paths: readonly string[];
  /** The supergraph in force, or undefined until the gateway has loaded one (operations then fail). */
  snapshot: () => SupergraphSnapshot | undefined;
  hub: SubscriptionHub;
  /** Runs a query or mutation the way HTTP requests run (the gateway's Apollo Server), as `context`'s caller. */
  executeOperation: (operation: WebSocketOperation, context: GatewayContext) => Promise<FormattedExecutionResult>;
  /** Formats each error before it is sent (masking internals in production), as HTTP responses are. */
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  /** How long a client has to send `connection_init` before the socket closes with 4408. Default 3000. */
  connectionInitWaitTimeoutMs?: number;
  /** How often clients are pinged; one that does not answer within the same time is dropped. Default 12000. */
  keepAliveMs?: number;
  /** Verifies a connection's `authorization`: a bad or expired token closes the socket with 4403. */
  authenticate: (authorization: string | undefined) => Promise<CallerContext>;
  /** Subscriptions one connection may hold at once. Default 100. */
  maxSubscriptionsPerConnection?: number;
  /** Origins allowed to open a WebSocket (browsers send `Origin`); empty or undefined allows any. */
  allowedOrigins?: readonly string[];
  /**
   * The client's address, from the upgrade request, as HTTP requests get it: a trusted proxy's
   * `X-Forwarded-For`, else the peer (rate limits per address count WebSocket `login` and `register` too).
   */
  clientAddress: (request: IncomingMessage) => string;
  isProduction: boolean;
  logger: Logger;
}

/**
 * Who may start each subscription at the gateway, by root field; the owning subgraph checks again. A field
 * not listed needs a signed-in caller.
 */
const SUBSCRIPTION_POLICIES: Record<string, (context: CallerContext) => unknown> = {
  patientCreated: requireStaff,
};

export interface GatewayWebSocketServer {
  /** Connected client sockets. */
  clientSockets(): number;
  /** Closes every client socket (1001) and stops accepting new ones. */
  close(): Promise<void>;
}

/** What each operation of a connection carries into `execute`/`subscribe`. */
interface OperationContext extends GatewayContext {
  prepared: PreparedOperation;
  payload: SubscribePayload;
  /** When the caller's token expires: the subscription ends then with UNAUTHENTICATED. */
  expiresAt?: number;
  /** The client's socket and the subscription's id: the hub writes `next` messages there itself. */
  socket: WebSocket;
  id: string;
}

/**
 * The root fields of a prepared subscription, through fragment spreads and inline fragments (validation
 * allows exactly one, however it is written).
 */
function rootFieldsOf(prepared: PreparedOperation): string[] {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of prepared.document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  const fields: string[] = [];
  const visit = (selectionSet: SelectionSetNode, entered: Set<string>) => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) fields.push(selection.name.value);
      else if (selection.kind === Kind.INLINE_FRAGMENT) visit(selection.selectionSet, entered);
      else if (!entered.has(selection.name.value)) {
        const fragment = fragments.get(selection.name.value);
        if (fragment) visit(fragment.selectionSet, new Set([...entered, selection.name.value]));
      }
    }
  };
  visit(prepared.operation.selectionSet, new Set());
  return fields;
}

/**
 * graphql-ws (`graphql-transport-ws`) on the gateway's HTTP port. Subscriptions go to the {@link SubscriptionHub};
 * queries and mutations run through the gateway's Apollo Server exactly as over HTTP. Operations that fail to
 * parse or validate (or whose variables do not fit) are answered with an `error` message; graphql-ws's
 * `makeServer` enforces the protocol's close codes (4400, 4401, 4408, 4409, 4429, ...).
 */
export function createGatewayWebSocketServer(options: GatewayWebSocketServerOptions): GatewayWebSocketServer {
  const { logger } = options;
  // Frames over 64 KiB are refused (the socket closes with 1009).
  const wsServer = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const maxSubscriptions = options.maxSubscriptionsPerConnection ?? 100;
  const callers = new WeakMap<object, CallerContext>();
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(request.url ?? '/', 'http://gateway').pathname;
    if (!options.paths.includes(path)) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const origin = request.headers.origin;
    if (options.allowedOrigins?.length && origin !== undefined && !options.allowedOrigins.includes(origin)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wsServer.handleUpgrade(request, socket, head, (ws) => wsServer.emit('connection', ws, request));
  };
  options.server.on('upgrade', onUpgrade);

  const handler = serveGraphQLWs<Record<string, unknown> | undefined>(
    {
      connectionInitWaitTimeout: options.connectionInitWaitTimeoutMs ?? 3000,
      onConnect: async (ctx) => {
        const header = ctx.connectionParams?.authorization;
        const caller = await options.authenticate(typeof header === 'string' ? header : undefined);
        // A token that is sent must be valid: returning false closes the socket with 4403 Forbidden.
        if (caller.tokenError) return false;
        callers.set(ctx.extra, caller);
        logger.debug({ userId: caller.caller?.userId }, 'WebSocket client connected');
        return true;
      },
      onClose: (_ctx, code) => logger.debug({ code }, 'WebSocket client closed'),
      onSubscribe: (ctx, id, payload): ExecutionArgs | readonly GraphQLError[] => {
        const snapshot = options.snapshot();
        if (!snapshot) return [new GraphQLError('The gateway has not loaded its supergraph yet; try again shortly.')];
        // graphql-ws has already entered this operation: it is one of the count.
        if (Object.keys(ctx.subscriptions).length > maxSubscriptions) {
          return [new GraphQLError(`At most ${maxSubscriptions} operations per connection at once.`, { extensions: { code: ErrorCode.BadUserInput } })];
        }
        const prepared = snapshot.prepare(payload.query, payload.operationName);
        if (!('key' in prepared)) return prepared;
        const caller = callers.get(ctx.extra) ?? { caller: null };
        if (prepared.plan) {
          try {
            // Every root field's rule, and at least the caller's: none is looser than signing in.
            requireCaller(caller);
            for (const field of rootFieldsOf(prepared)) SUBSCRIPTION_POLICIES[field]?.(caller);
          } catch (error) {
            return [error as GraphQLError];
          }
        }
        // Variables are checked up front so that bad ones are an `error` message, as validation errors are.
        const coerced = getVariableValues(snapshot.apiSchema, prepared.operation.variableDefinitions ?? [], payload.variables ?? {});
        if (coerced.errors) return coerced.errors;
        const authorization = typeof ctx.connectionParams?.authorization === 'string' ? ctx.connectionParams.authorization : undefined;
        const request = (ctx.extra as { request?: IncomingMessage }).request;
        const ip = request && options.clientAddress(request);
        const socket = (ctx.extra as { socket: WebSocket }).socket;
        const contextValue: OperationContext = { authorization, ip, prepared, payload, expiresAt: caller.caller?.expiresAt, socket, id };
        return {
          schema: snapshot.apiSchema,
          document: prepared.document,
          operationName: prepared.operationName,
          variableValues: coerced.coerced,
          contextValue,
        };
      },
      subscribe: (args) => {
        const { prepared, payload, authorization, expiresAt, socket, id } = args.contextValue as OperationContext;
        if (!prepared.plan) throw new Error('Only subscriptions are planned for the subscription hub.');
        return endAtExpiry(options.hub.subscribe({
          prepared: prepared as PreparedOperation & { plan: NonNullable<PreparedOperation['plan']> },
          variables: payload.variables ?? {},
          coercedVariables: args.variableValues ?? {},
          authorization,
          socket,
          id,
        }), expiresAt);
      },
      execute: async (args) => {
        const { payload, authorization, ip } = args.contextValue as OperationContext;
        // Apollo Server formats these errors already; `onNext` below leaves them as they are.
        return (await options.executeOperation(
          { query: payload.query, operationName: payload.operationName ?? undefined, variables: payload.variables ?? undefined },
          { authorization, ip },
        )) as ExecutionResult;
      },
      onNext: (_ctx, _id, _payload, _args, result) => formatResult(result, options.formatError),
      onError: (_ctx, _id, _payload, errors) => errors.map((error) => options.formatError(error.toJSON(), error)),
    },
    wsServer,
    { logger, isProduction: options.isProduction, keepAliveMs: options.keepAliveMs },
  );

  return {
    clientSockets: () => wsServer.clients.size,
    async close() {
      options.server.off('upgrade', onUpgrade);
      await closeWebSockets(wsServer.clients);
      await handler.dispose();
    },
  };
}

/** A result as sent: GraphQLErrors (from subscriptions) formatted; already formatted ones kept. */
export function formatResult(
  result: ExecutionResult | FormattedExecutionResult,
  formatError: GatewayWebSocketServerOptions['formatError'],
): FormattedExecutionResult {
  if (!result.errors) return result as FormattedExecutionResult;
  return {
    ...result,
    errors: result.errors.map((error) => (error instanceof GraphQLError ? formatError(error.toJSON(), error) : error)),
  } as FormattedExecutionResult;
}
