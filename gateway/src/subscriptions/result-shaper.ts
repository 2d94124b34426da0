import { execute } from 'graphql';
import type { ExecutionResult, GraphQLError, GraphQLFieldResolver } from 'graphql';
import type { ResultObject } from './plan-executor';
import type { PreparedOperation } from './supergraph-snapshot';

/**
 * Reads a field by its response name (alias or name): fetches already answered under the client's aliases.
 * The same resolver the gateway used for shaping results before it had its own shaper.
 */
const readResponseName: GraphQLFieldResolver<unknown, unknown> = (source, _args, _context, info) =>
  typeof source === 'object' && source !== null ? (source as ResultObject)[String(info.path.key)] : undefined;

/**
 * Shapes merged subgraph data into the client's result exactly as a query would be: graphql-js executes the
 * client's operation over the API schema, reading the merged data, so aliases, fragments, `__typename`,
 * `@include`/`@skip` and null propagation for non-null fields all behave as in queries. `errors` (those of
 * subgraphs) come first, then any that shaping adds.
 */
export function shapeResult(
  prepared: PreparedOperation,
  data: ResultObject | null,
  variables: Readonly<Record<string, unknown>>,
  errors: readonly GraphQLError[],
): ExecutionResult {
  if (data === null) return { data: null, errors: errors.length > 0 ? [...errors] : undefined };
  const shaped = execute({
    schema: prepared.snapshot.apiSchema,
    document: prepared.document,
    operationName: prepared.operationName,
    rootValue: data,
    variableValues: variables,
    fieldResolver: readResponseName,
  }) as ExecutionResult; // synchronous: the resolver above never returns a promise
  const all = [...errors, ...(shaped.errors ?? [])];
  return all.length > 0 ? { data: shaped.data ?? null, errors: all } : { data: shaped.data ?? null };
}
