import { buildSchema, parse, validate } from 'graphql';
import { limitRules } from './limits';

const schema = buildSchema(`
  type Query { patients(first: Int = 20, after: String): Connection!  doctors(first: Int): Connection!  me: Person }
  type Connection { edges: [Edge!]! }
  type Edge { node: Person! }
  type Person { id: ID! name: String friends(first: Int = 5): Connection! }
`);

/** The cost the rule computes, read from its error against a limit of 0. */
function costOf(query: string): number {
  const errors = validate(schema, parse(query), limitRules({ maxDepth: 100, maxAliases: 100, maxCost: 0 }));
  const match = errors.map((error) => /cost about (\d+)/.exec(error.message)).find(Boolean);
  return match ? Number(match[1]) : 0;
}

it('counts each field once, times the page sizes above it', () => {
  // me { id name }: 1 + (1 + 1)
  expect(costOf('{ me { id name } }')).toBe(3);
  // patients(first: 10): 1 + 10 × edges (1 + node (1 + id 1))
  expect(costOf('{ patients(first: 10) { edges { node { id } } } }')).toBe(1 + 10 * 3);
});

it("reads a paged field's default page size from the schema when `first` is left out", () => {
  expect(costOf('{ patients { edges { node { id } } } }')).toBe(1 + 20 * 3);
  // A nested paged field with its own default: friends (first = 5).
  expect(costOf('{ me { friends { edges { node { id } } } } }')).toBe(1 + (1 + 5 * 3));
  // `first` without a default: 20.
  expect(costOf('{ doctors { edges { node { id } } } }')).toBe(1 + 20 * 3);
});

it('counts a page size given by a variable as the largest page (100)', () => {
  expect(costOf('query ($n: Int) { patients(first: $n) { edges { node { id } } } }')).toBe(1 + 100 * 3);
});

it('follows fragments and inline fragments with their types', () => {
  const viaFragment = costOf('{ me { ...F } } fragment F on Person { friends(first: 2) { edges { node { id } } } }');
  const inline = costOf('{ me { ... on Person { friends(first: 2) { edges { node { id } } } } } }');
  expect(viaFragment).toBe(1 + (1 + 2 * 3));
  expect(inline).toBe(viaFragment);
});

it('refuses an operation over the cost limit and lets one under it through', () => {
  const rules = limitRules({ maxDepth: 10, maxAliases: 15, maxCost: 100 });
  expect(validate(schema, parse('{ patients(first: 30) { edges { node { id } } } }'), rules)).toHaveLength(0);
  const errors = validate(schema, parse('{ patients(first: 40) { edges { node { id } } } }'), rules);
  expect(errors.map((error) => error.message)).toEqual([expect.stringMatching(/cost about 121; at most 100/)]);
});

it('measures each fragment once: a document that doubles its work in every fragment is refused at once', () => {
  // F0 spreads F1 twice, F1 spreads F2 twice, … F39 selects `me { id }`: 2^39 paths to walk one by one, in a
  // document of about 400 tokens. Its cost is 2^39 (the doubling fragments) × 2 (me, id).
  const count = 40;
  const fragments = Array.from({ length: count }, (_, i) => (i < count - 1 ? `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }` : `fragment F${i} on Query { me { id } }`));
  const query = `{ ...F0 } ${fragments.join(' ')}`;
  expect(costOf(query)).toBe(2 ** (count - 1) * 2);
  // A fragment spread inside itself counts nothing there (validation refuses the cycle on its own).
  expect(costOf('{ me { ...A } } fragment A on Person { id friends { edges { node { ...A } } } }')).toBe(1 + (1 + (1 + 5 * (1 + 1))));
});
