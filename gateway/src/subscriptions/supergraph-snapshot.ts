import { Supergraph, operationFromDocument } from '@apollo/federation-internals';
import { QueryPlanner } from '@apollo/query-planner';
import type { FetchNode, PlanNode } from '@apollo/query-planner';
import { GraphQLError, getOperationAST, parse, specifiedRules, validate } from 'graphql';
import { QUERY_LIMITS, limitRules } from '@phos/shared';
import type { DocumentNode, GraphQLSchema, OperationDefinitionNode } from 'graphql';
import { createHash } from 'node:crypto';

/** How a subscription runs across subgraphs: one upstream subscription, then entity fetches per event. */
export interface SubscriptionPlan {
  /** The subgraph that owns the subscription field: it receives the primary operation over graphql-ws. */
  readonly serviceName: string;
  /** The operation sent to that subgraph. */
  readonly primary: FetchNode;
  /** The fetches that complete each event with fields of other subgraphs; absent when there are none. */
  readonly rest?: PlanNode;
}

/** A validated operation of one supergraph version, ready to run. Built once per distinct operation. */
export interface PreparedOperation {
  /** Unique per supergraph version and operation text: what plans and shared subscriptions are keyed by. */
  readonly key: string;
  readonly snapshot: SupergraphSnapshot;
  readonly document: DocumentNode;
  readonly operation: OperationDefinitionNode;
  readonly operationName: string | undefined;
  /** Present for subscriptions only. */
  readonly plan?: SubscriptionPlan;
}

export interface SupergraphSnapshotOptions {
  /** Subgraph URLs by name, over those written in the supergraph (tests start subgraphs on port 0). */
  subgraphUrls?: Readonly<Record<string, string>>;
  /** How many distinct operations keep their parsed document and plan; the oldest is dropped first. Default 500. */
  maxCachedOperations?: number;
}

/** One version of the supergraph as the subscription machinery sees it. Immutable, but for its operation cache. */
export interface SupergraphSnapshot {
  /** Increases with each supergraph version loaded in this process. */
  readonly version: number;
  /** The schema clients see: what operations are validated and results shaped against. */
  readonly apiSchema: GraphQLSchema;
  /** The supergraph with its join directives: what type conditions of plans are checked against. */
  readonly supergraphSchema: GraphQLSchema;
  /** The subgraphs and their HTTP URLs. */
  readonly subgraphUrls: ReadonlyMap<string, string>;
  /**
   * Parses, validates and (for subscriptions) plans an operation, or returns the errors that make it
   * unusable. Results are cached per operation text and name, so repeated subscriptions cost a lookup.
   */
  prepare(query: string, operationName?: string | null): PreparedOperation | readonly GraphQLError[];
}

let versions = 0;

/**
 * Builds the snapshot of a supergraph SDL (as `gateway.onSchemaLoadOrUpdate` hands it over). Throws when the
 * SDL is not a valid supergraph, as the gateway itself would.
 */
export function createSupergraphSnapshot(supergraphSdl: string, options: SupergraphSnapshotOptions = {}): SupergraphSnapshot {
  const supergraph = Supergraph.build(supergraphSdl);
  const apiSchema = supergraph.apiSchema();
  const planner = new QueryPlanner(supergraph);
  const version = ++versions;
  const maxCached = options.maxCachedOperations ?? 500;
  const cache = new Map<string, PreparedOperation | readonly GraphQLError[]>();
  const subgraphUrls = new Map(supergraph.subgraphsMetadata().map(({ name, url }) => [name, options.subgraphUrls?.[name] ?? url]));

  const snapshot: SupergraphSnapshot = {
    version,
    apiSchema: apiSchema.toGraphQLJSSchema(),
    supergraphSchema: supergraph.schema.toGraphQLJSSchema(),
    subgraphUrls,
    prepare(query, operationName) {
      const cacheKey = `${operationName ?? ''}\n${query}`;
      const cached = cache.get(cacheKey);
      if (cached) {
        // Refresh its place: the map's insertion order is the eviction order.
        cache.delete(cacheKey);
        cache.set(cacheKey, cached);
        return cached;
      }
      const prepared = prepareUncached(query, operationName ?? undefined);
      cache.set(cacheKey, prepared);
      if (cache.size > maxCached) cache.delete(cache.keys().next().value as string);
      return prepared;
    },
  };

  function prepareUncached(query: string, operationName: string | undefined): PreparedOperation | readonly GraphQLError[] {
    let document: DocumentNode;
    try {
      document = parse(query, { maxTokens: QUERY_LIMITS.maxTokens });
    } catch (error) {
      if (error instanceof GraphQLError) return [error];
      throw error;
    }
    const validationErrors = validate(snapshot.apiSchema, document, [...specifiedRules, ...limitRules()]);
    if (validationErrors.length > 0) return validationErrors;
    const operation = getOperationAST(document, operationName);
    if (!operation) {
      return [new GraphQLError(operationName ? `Unknown operation named "${operationName}".` : 'Send exactly one operation, or name the one to run in `operationName`.')];
    }
    const key = `${version}:${createHash('sha256').update(operationName ?? '').update('\n').update(query).digest('base64url')}`;
    const base = { key, snapshot, document, operation, operationName };
    if (operation.operation !== 'subscription') return base;

    let node;
    try {
      node = planner.buildQueryPlan(operationFromDocument(apiSchema, document, { operationName, validate: false })).node;
    } catch (error) {
      // The planner refuses some valid operations (selection limits, for one) with a GraphQLError.
      if (error instanceof GraphQLError) return [error];
      throw error;
    }
    if (node?.kind !== 'Subscription') {
      return [new GraphQLError('This subscription cannot be planned: the supergraph names no subgraph that serves it.')];
    }
    return { ...base, plan: { serviceName: node.primary.serviceName, primary: node.primary, rest: node.rest } };
  }

  return snapshot;
}
