import { GraphQLError, Kind } from 'graphql';
import type { ASTVisitor, FragmentDefinitionNode, SelectionSetNode, ValidationContext, ValidationRule } from 'graphql';

/** The limits every operation must keep, over HTTP and WebSocket, at the gateway and at each subgraph. */
export const QUERY_LIMITS = {
  /** Nesting of fields, introspection excluded. */
  maxDepth: 10,
  /** Aliased fields in one document. */
  maxAliases: 15,
  /** Lexical tokens in one document (enforced by the parser). */
  maxTokens: 1000,
  /** Estimated work: each field costs 1, times the page size (`first`, default 20) of the lists above it. */
  maxCost: 5000,
} as const;

const DEFAULT_PAGE = 20;

function isIntrospection(name: string): boolean {
  return name === '__schema' || name === '__type';
}

interface Measure {
  depth: number;
  cost: number;
}

/** Depth and cost of a selection set, following fragments (each fragment once per path, cycles ignored). */
function measure(selectionSet: SelectionSetNode, fragments: Record<string, FragmentDefinitionNode>, seen: Set<string>): Measure {
  let depth = 0;
  let cost = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (isIntrospection(selection.name.value)) continue;
      const first = selection.arguments?.find((arg) => arg.name.value === 'first');
      const multiplier = first?.value.kind === Kind.INT ? Math.max(1, Number(first.value.value)) : first || selection.name.value === 'patients' ? DEFAULT_PAGE : 1;
      const child = selection.selectionSet ? measure(selection.selectionSet, fragments, seen) : { depth: 0, cost: 0 };
      depth = Math.max(depth, 1 + child.depth);
      cost += 1 + multiplier * child.cost;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      const child = measure(selection.selectionSet, fragments, seen);
      depth = Math.max(depth, child.depth);
      cost += child.cost;
    } else {
      const name = selection.name.value;
      const fragment = fragments[name];
      if (!fragment || seen.has(name)) continue;
      const child = measure(fragment.selectionSet, fragments, new Set(seen).add(name));
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
          const { depth, cost } = measure(node.selectionSet, fragments, new Set());
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
