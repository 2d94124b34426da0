import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '@phos/shared';
import { executePlan } from './plan-executor';
import type { SubgraphFetch } from './plan-executor';
import { shapeResult } from './result-shaper';
import { createSupergraphSnapshot } from './supergraph-snapshot';
import type { PreparedOperation } from './supergraph-snapshot';

const snapshot = createSupergraphSnapshot(readFileSync(join(projectRoot, 'schema', 'supergraph.graphql'), 'utf8'));

function plan(query: string) {
  const prepared = snapshot.prepare(query);
  if (!('key' in prepared) || !prepared.plan?.rest) throw new Error('expected a subscription with entity fetches');
  return { prepared: prepared as PreparedOperation, rest: prepared.plan.rest };
}

const options = (fetch: SubgraphFetch, variables: Record<string, unknown> = {}) => ({ supergraphSchema: snapshot.supergraphSchema, fetch, variables, coercedVariables: variables });

describe('executePlan and shapeResult', () => {
  const query = `subscription ($withUser: Boolean!) {
    created: patientCreated { __typename patientId: id user @include(if: $withUser) { ... on User { mail: email } } }
  }`;
  const primaryData = () => ({ created: { __typename: 'Patient', patientId: 'p1', user: { __typename: 'User', id: 'u1' } } });

  it('completes the primary data with entity fetches and shapes it as a query would', async () => {
    const { prepared, rest } = plan(query);
    const fetch = jest.fn<ReturnType<SubgraphFetch>, Parameters<SubgraphFetch>>(async () => ({ data: { _entities: [{ mail: 'ada@example.org' }] } }));
    const data = primaryData();
    const errors = await executePlan(rest, data, options(fetch, { withUser: true }));
    expect(errors).toEqual([]);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(fetch.mock.calls[0][0]).toBe('identity');
    expect(fetch.mock.calls[0][1].variables).toEqual({ representations: [{ __typename: 'User', id: 'u1' }] });
    expect(shapeResult(prepared, data, { withUser: true }, errors)).toEqual({
      data: { created: { __typename: 'Patient', patientId: 'p1', user: { mail: 'ada@example.org' } } },
    });
  });

  it('skips fetches whose condition is false', async () => {
    const { prepared, rest } = plan(query);
    const fetch = jest.fn<ReturnType<SubgraphFetch>, Parameters<SubgraphFetch>>();
    const data = primaryData();
    expect(await executePlan(rest, data, options(fetch, { withUser: false }))).toEqual([]);
    expect(fetch).not.toHaveBeenCalled();
    expect(shapeResult(prepared, data, { withUser: false }, [])).toEqual({ data: { created: { __typename: 'Patient', patientId: 'p1' } } });
  });

  it('reports subgraph errors at the client path, with the subgraph name, and null-propagates as queries do', async () => {
    const { prepared, rest } = plan(query);
    const fetch: SubgraphFetch = async () => ({ data: { _entities: [null] }, errors: [{ message: 'boom', path: ['_entities', 0, 'mail'] }] });
    const data = primaryData();
    const errors = await executePlan(rest, data, options(fetch, { withUser: true }));
    expect(errors.map((error) => error.toJSON())).toEqual([
      { message: 'boom', path: ['created', 'user', 'mail'], extensions: { code: 'DOWNSTREAM_SERVICE_ERROR', serviceName: 'identity' } },
    ]);
    const result = shapeResult(prepared, data, { withUser: true }, errors);
    // `email: String!`, `user: User!` and `patientCreated: Patient!`: the null reaches the root, as in a query.
    expect(result.data).toBeNull();
    expect(result.errors?.map((error) => error.message)).toEqual(['boom', 'Cannot return null for non-nullable field User.email.']);
  });

  it('turns a failed fetch into an error of the event rather than a rejection', async () => {
    const { rest } = plan(query);
    const errors = await executePlan(rest, primaryData(), options(async () => Promise.reject(new Error('ECONNREFUSED')), { withUser: true }));
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toMatch(/identity.*ECONNREFUSED/);
    expect(errors[0].extensions).toMatchObject({ serviceName: 'identity' });
  });
});
