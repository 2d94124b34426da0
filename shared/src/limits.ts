import { GraphQLError, Kind, getNamedType, isInterfaceType, isObjectType } from 'graphql';
import type { ASTVisitor, FieldNode, FragmentDefinitionNode, GraphQLField, GraphQLNamedType, GraphQLSchema, SelectionSetNode, ValidationContext, ValidationRule } from 'graphql';

/** The limits every operation must keep, over HTTP and WebSocket, at the gateway and at each subgraph. */
export const QUERY_LIMITS = {
  /** Nesting of fields, introspection excluded. */
  maxDepth: 10,
  /** Aliased fields in one document. */
  maxAliases: 15,
  /** Lexical tokens in one document (enforced by the parser). */
  maxTokens: 1000,
  /** Estimated work: each field costs 1, times the page sizes of the lists above it (see {@link pageSizeOf}). */
  maxCost: 5000,
} as const;

/** The page size of a `first` argument without a default. */
const DEFAULT_PAGE = 20;
/** A `first` given by a variable counts as the largest page any field allows (`patients` allows 100). */
const VARIABLE_PAGE = 100;

/**
 * What a field multiplies the cost of its selection by: for a field with a `first` argument, the literal page
 * size asked for, else {@link VARIABLE_PAGE} when a variable gives it, else the argument's default (from the
 * schema, so every paged field counts, asked for with `first` or not); 1 for any other field. Lists inside a
 * page (`edges`) are bounded by it and count once.
 */
function pageSizeOf(node: FieldNode, field: GraphQLField<unknown, unknown> | undefined): number {
  const first = node.arguments?.find((arg) => arg.name.value === 'first');
  if (first?.value.kind === Kind.INT) return Math.max(1, Number(first.value.value));
  if (first?.value.kind === Kind.VARIABLE) return VARIABLE_PAGE;
  const definition = field?.args.find((arg) => arg.name === 'first');
  if (definition) return typeof definition.defaultValue === 'number' ? Math.max(1, definition.defaultValue) : DEFAULT_PAGE;
  return first ? DEFAULT_PAGE : 1; // a `first` that is not an Int is refused by the other rules
}

function isIntrospection(name: string): boolean {
  return name === '__schema' || name === '__type';
}

interface Measure {
  depth: number;
  cost: number;
}

/**
 * Depth and cost of a selection set of type `parent`, following fragments. Each fragment is measured once per
 * document and its measure reused wherever it is spread (its type condition fixes what it selects): a
 * document that spreads a fragment twice in each of 30 nested fragments costs 2^30 and is refused, in as
 * many steps as it has fragments, not 2^30. A fragment spread inside itself (a cycle, which validation
 * refuses anyway) counts nothing there.
 */
function measure(
  schema: GraphQLSchema,
  parent: GraphQLNamedType | undefined,
  selectionSet: SelectionSetNode,
  fragments: Record<string, FragmentDefinitionNode>,
  measured: Map<string, Measure | 'measuring'>,
): Measure {
  let depth = 0;
  let cost = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (isIntrospection(selection.name.value)) continue;
      const field = isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[selection.name.value] : undefined;
      const child = selection.selectionSet ? measure(schema, field && getNamedType(field.type), selection.selectionSet, fragments, measured) : { depth: 0, cost: 0 };
      depth = Math.max(depth, 1 + child.depth);
      cost += 1 + pageSizeOf(selection, field) * child.cost;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
      const child = measure(schema, type, selection.selectionSet, fragments, measured);
      depth = Math.max(depth, child.depth);
      cost += child.cost;
    } else {
      const name = selection.name.value;
      const fragment = fragments[name];
      let child = measured.get(name);
      if (!fragment || child === 'measuring') continue;
      if (!child) {
        measured.set(name, 'measuring');
        child = measure(schema, schema.getType(fragment.typeCondition.name.value), fragment.selectionSet, fragments, measured);
        measured.set(name, child);
      }
      depth = Math.max(depth, child.depth);
      cost += child.cost;
    }
  }
  return { depth, cost };
}

/**
 * Validation rules for depth, aliases and cost (tokens are the parser's: pass `maxTokens` to `parse`).
 * Their errors say which limit was passed and by how much.
 */
export function limitRules(limits: { maxDepth: number; maxAliases: number; maxCost: number } = QUERY_LIMITS): ValidationRule[] {
  const rule = (context: ValidationContext): ASTVisitor => {
    const document = context.getDocument();
    const fragments: Record<string, FragmentDefinitionNode> = {};
    let aliases = 0;
    for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments[definition.name.value] = definition;
    return {
      Field(node) {
        if (node.alias) aliases += 1;
      },
      OperationDefinition: {
        leave(node) {
          const schema = context.getSchema();
          const { depth, cost } = measure(schema, schema.getRootType(node.operation) ?? undefined, node.selectionSet, fragments, new Map());
          if (depth > limits.maxDepth) context.reportError(new GraphQLError(`The operation is nested ${depth} levels deep; at most ${limits.maxDepth} are allowed.`, { nodes: [node] }));
          if (cost > limits.maxCost) context.reportError(new GraphQLError(`The operation would cost about ${cost}; at most ${limits.maxCost} is allowed. Ask for smaller pages.`, { nodes: [node] }));
        },
      },
      Document: {
        leave() {
          if (aliases > limits.maxAliases) context.reportError(new GraphQLError(`The document has ${aliases} aliases; at most ${limits.maxAliases} are allowed.`));
        },
      },
    };
  };
  return [rule];
}
