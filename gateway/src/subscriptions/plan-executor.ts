import type { FetchDataRewrite, FetchNode, PlanNode, QueryPlanSelectionNode } from '@apollo/query-planner';
import { GraphQLError, isAbstractType, isInterfaceType, isObjectType } from 'graphql';
import type { GraphQLFormattedError, GraphQLSchema } from 'graphql';

/** A JSON object of a subgraph response, merged in place as fetches complete. */
export type ResultObject = Record<string, unknown>;

/** What one fetch sends to a subgraph. */
export interface SubgraphRequest {
  readonly query: string;
  readonly operationName: string | undefined;
  readonly variables: Record<string, unknown>;
}

/** What a subgraph answered. */
export interface SubgraphResponse {
  readonly data?: ResultObject | null;
  readonly errors?: readonly GraphQLFormattedError[];
}

/** Sends one operation to a subgraph by name. Rejects on transport failures (HTTP errors, network). */
export type SubgraphFetch = (serviceName: string, request: SubgraphRequest) => Promise<SubgraphResponse>;

export interface PlanExecutionOptions {
  /** The supergraph schema, against which type conditions of `requires` and rewrites are checked. */
  supergraphSchema: GraphQLSchema;
  fetch: SubgraphFetch;
  /** The operation's variables as the client sent them: what fetches forward. */
  variables: Readonly<Record<string, unknown>>;
  /** The same, coerced and with defaults: what `@include`/`@skip` conditions read. */
  coercedVariables: Readonly<Record<string, unknown>>;
}

type Path = (string | number)[];

/** An object of the result being completed, and where it sits in the response. */
interface Cursor {
  readonly value: ResultObject;
  readonly path: Path;
}

/**
 * Runs the non-primary part of a query plan (Sequence, Parallel, Flatten, Condition and entity Fetch nodes)
 * over `data`, the primary fetch's result, merging what each subgraph returns into it in place. Errors of
 * subgraphs and transports are returned with their response paths; they never reject, so one failing
 * subgraph leaves the rest of the event intact (as `executeQueryPlan` of @apollo/gateway does).
 */
export async function executePlan(node: PlanNode, data: ResultObject, options: PlanExecutionOptions): Promise<GraphQLError[]> {
  const errors: GraphQLError[] = [];
  await executeNode(node, [{ value: data, path: [] }], options, errors);
  return errors;
}

async function executeNode(node: PlanNode, cursors: Cursor[], options: PlanExecutionOptions, errors: GraphQLError[]): Promise<void> {
  if (cursors.length === 0) return;
  switch (node.kind) {
    case 'Sequence':
      for (const child of node.nodes) await executeNode(child, cursors, options, errors);
      return;
    case 'Parallel':
      await Promise.all(node.nodes.map((child) => executeNode(child, cursors, options, errors)));
      return;
    case 'Flatten':
      await executeNode(node.node, cursors.flatMap((cursor) => descend(cursor.value, cursor.path, node.path, options.supergraphSchema)), options, errors);
      return;
    case 'Condition': {
      const branch = options.coercedVariables[node.condition] === true ? node.ifClause : node.elseClause;
      if (branch) await executeNode(branch, cursors, options, errors);
      return;
    }
    case 'Fetch':
      try {
        await executeFetch(node, cursors, options, errors);
      } catch (error) {
        errors.push(fetchFailure(error, node.serviceName, cursors.length === 1 ? cursors[0].path : undefined));
      }
      return;
    case 'Defer':
      errors.push(new GraphQLError('@defer is not supported in subscriptions.'));
      return;
  }
}

/**
 * The objects at `remaining` below `value`, each with its response path: `@` stands for every element of a
 * list (a list met under a field name is walked the same way), `... on T` keeps objects of type T.
 */
function descend(value: unknown, path: Path, remaining: readonly (string | number)[], schema: GraphQLSchema, found: Cursor[] = []): Cursor[] {
  if (value === null || value === undefined || typeof value !== 'object') return found;
  const [head, ...rest] = remaining;
  if (Array.isArray(value)) {
    value.forEach((item, index) => descend(item, [...path, index], head === '@' ? rest : remaining, schema, found));
  } else if (head === undefined) {
    found.push({ value: value as ResultObject, path });
  } else if (typeof head === 'string' && head.startsWith('... on ')) {
    if (isObjectOfType(schema, value as ResultObject, head.slice('... on '.length))) descend(value, path, rest, schema, found);
  } else if (head !== '@' && Object.hasOwn(value, head)) {
    descend((value as ResultObject)[head], [...path, head], rest, schema, found);
  }
  return found;
}

async function executeFetch(fetch: FetchNode, cursors: Cursor[], options: PlanExecutionOptions, errors: GraphQLError[]): Promise<void> {
  const variables: Record<string, unknown> = {};
  for (const name of fetch.variableUsages ?? []) {
    if (Object.hasOwn(options.variables, name) && options.variables[name] !== undefined) variables[name] = options.variables[name];
  }

  if (!fetch.requires) {
    const response = await options.fetch(fetch.serviceName, { query: fetch.operation, operationName: fetch.operationName, variables });
    errors.push(...(response.errors ?? []).map((error) => subgraphError(error, fetch.serviceName, (path) => (path ? [...cursors[0].path, ...path] : undefined))));
    if (response.data) {
      applyRewrites(options.supergraphSchema, fetch.outputRewrites, response.data);
      for (const cursor of cursors) deepMerge(cursor.value, response.data);
    }
    return;
  }

  // Entity fetch: one representation (the `requires` selection: __typename and key fields) per object.
  const representations: ResultObject[] = [];
  const targets: Cursor[] = [];
  for (const cursor of cursors) {
    const representation = selectRequired(options.supergraphSchema, cursor.value, fetch.requires);
    if (representation && typeof representation.__typename === 'string') {
      applyRewrites(options.supergraphSchema, fetch.inputRewrites, representation);
      representations.push(representation);
      targets.push(cursor);
    }
  }
  if (representations.length === 0) return;

  const response = await options.fetch(fetch.serviceName, { query: fetch.operation, operationName: fetch.operationName, variables: { ...variables, representations } });
  errors.push(
    ...(response.errors ?? []).map((error) =>
      subgraphError(error, fetch.serviceName, (path) => {
        // `_entities.<i>.rest` is `rest` below the i-th object this fetch completed.
        if (path?.[0] === '_entities' && typeof path[1] === 'number' && targets[path[1]]) return [...targets[path[1]].path, ...path.slice(2)];
        return undefined;
      }),
    ),
  );
  const entities = response.data?._entities;
  if (response.data === null || response.data === undefined) return;
  if (!Array.isArray(entities) || entities.length !== representations.length) {
    throw new Error(`"${fetch.serviceName}" answered an entity fetch without "_entities" of ${representations.length} elements`);
  }
  entities.forEach((entity: ResultObject | null, index) => {
    if (!entity) return;
    entity.__typename ??= targets[index].value.__typename;
    applyRewrites(options.supergraphSchema, fetch.outputRewrites, entity);
    deepMerge(targets[index].value, entity);
  });
}

/** The `requires` selection over an object, or null when a selected field is missing. */
function selectRequired(schema: GraphQLSchema, source: ResultObject | null, selections: readonly QueryPlanSelectionNode[]): ResultObject | null {
  if (source === null) return null;
  const result: ResultObject = {};
  for (const selection of selections) {
    if (selection.kind === 'Field') {
      const name = selection.alias ?? selection.name;
      const value = source[name];
      if (!Object.hasOwn(source, name) || value === undefined) return null;
      const sub = selection.selections;
      if (Array.isArray(value)) result[name] = value.map((item: ResultObject | null) => (sub ? selectRequired(schema, item, sub) : item));
      else result[name] = sub && value !== null ? selectRequired(schema, value as ResultObject, sub) : value;
    } else if (selection.typeCondition && isObjectOfType(schema, source, selection.typeCondition)) {
      deepMerge(result, selectRequired(schema, source, selection.selections));
    }
  }
  return result;
}

/** Whether an object (by its `__typename`) satisfies a type condition. */
function isObjectOfType(schema: GraphQLSchema, object: ResultObject, typeCondition: string, whenUnknown = false): boolean {
  const typename = object.__typename;
  if (typeof typename !== 'string') return whenUnknown;
  if (typename === typeCondition) return true;
  const type = schema.getType(typename);
  const condition = schema.getType(typeCondition);
  if (!type || !condition || !isAbstractType(condition)) return false;
  return (isObjectType(type) || isInterfaceType(type)) && schema.isSubType(condition, type);
}

/** Applies the planner's value setters and key renamers (used for @interfaceObject and aliased keys). */
function applyRewrites(schema: GraphQLSchema, rewrites: readonly FetchDataRewrite[] | undefined, value: unknown): void {
  for (const rewrite of rewrites ?? []) {
    if (rewrite.path.length === 0) continue;
    const field = rewrite.path[rewrite.path.length - 1];
    applyAtPath(schema, rewrite.path.slice(0, -1), value, (object) => {
      if (rewrite.kind === 'ValueSetter') {
        object[field] = rewrite.setValueTo;
      } else if (object[field]) {
        object[rewrite.renameKeyTo] = object[field];
        object[field] = undefined;
      }
    });
  }
}

function applyAtPath(schema: GraphQLSchema, path: string[], value: unknown, apply: (object: ResultObject) => void): void {
  if (Array.isArray(value)) {
    for (const item of value) applyAtPath(schema, path, item, apply);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  const object = value as ResultObject;
  if (path.length === 0) return apply(object);
  const [first, ...rest] = path;
  if (first.startsWith('... on ')) {
    if (isObjectOfType(schema, object, first.slice('... on '.length), true)) applyAtPath(schema, rest, object, apply);
  } else {
    applyAtPath(schema, rest, object[first], apply);
  }
}

/** Merges `source` into `target` in place: objects field by field, same-length lists element by element. */
export function deepMerge(target: ResultObject, source: ResultObject | null | undefined): ResultObject {
  if (!source) return target;
  for (const key of Object.keys(source)) {
    const from = source[key];
    const to = target[key];
    if (from === undefined) continue;
    if (isPlainObject(from) && isPlainObject(to)) {
      deepMerge(to, from);
    } else if (Array.isArray(from) && Array.isArray(to) && from.length === to.length) {
      from.forEach((item, index) => {
        if (isPlainObject(item) && isPlainObject(to[index])) deepMerge(to[index] as ResultObject, item);
        else to[index] = item;
      });
    } else {
      target[key] = from;
    }
  }
  return target;
}

function isPlainObject(value: unknown): value is ResultObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A subgraph's error as the client sees it: path mapped into the client's response, `serviceName` added. */
export function subgraphError(error: GraphQLFormattedError, serviceName: string, mapPath: (path: readonly (string | number)[] | undefined) => Path | undefined): GraphQLError {
  return new GraphQLError(error.message || `Error while fetching subquery from service "${serviceName}"`, {
    path: mapPath(error.path),
    extensions: { ...error.extensions, code: error.extensions?.code ?? 'DOWNSTREAM_SERVICE_ERROR', serviceName },
  });
}

function fetchFailure(error: unknown, serviceName: string, path: Path | undefined): GraphQLError {
  if (error instanceof GraphQLError) {
    return new GraphQLError(error.message, { path, originalError: error, extensions: { ...error.extensions, serviceName } });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new GraphQLError(`Error while fetching subquery from service "${serviceName}": ${message}`, {
    path,
    originalError: error instanceof Error ? error : undefined,
    extensions: { code: 'DOWNSTREAM_SERVICE_ERROR', serviceName },
  });
}
