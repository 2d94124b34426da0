import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '@phos/shared';
import { createSupergraphSnapshot } from './supergraph-snapshot';
import type { PreparedOperation } from './supergraph-snapshot';

const supergraphSdl = readFileSync(join(projectRoot, 'schema', 'supergraph.graphql'), 'utf8');

function prepared(result: ReturnType<ReturnType<typeof createSupergraphSnapshot>['prepare']>): PreparedOperation {
  if (!('key' in result)) throw new Error(`expected an operation, got ${result.map((e) => e.message).join('; ')}`);
  return result;
}

describe('createSupergraphSnapshot', () => {
  it('plans a subscription to the subgraph that owns the field, with entity fetches for the others', () => {
    const snapshot = createSupergraphSnapshot(supergraphSdl, { subgraphUrls: { patients: 'http://127.0.0.1:1/graphql' } });
    const withUser = prepared(snapshot.prepare('subscription { patientCreated { id user { email } } }'));
    expect(withUser.plan?.serviceName).toBe('patients');
    expect(withUser.plan?.primary.operation).toMatch(/^subscription/);
    expect(JSON.stringify(withUser.plan?.rest)).toContain('"serviceName":"identity"');
    const patientsOnly = prepared(snapshot.prepare('subscription { patientCreated { id } }'));
    expect(patientsOnly.plan?.rest).toBeUndefined();
    expect(snapshot.subgraphUrls.get('patients')).toBe('http://127.0.0.1:1/graphql');
    expect(snapshot.subgraphUrls.get('identity')).toBe('http://127.0.0.1:4001/graphql');
  });

  it('parses, validates and plans each distinct operation once', () => {
    const snapshot = createSupergraphSnapshot(supergraphSdl);
    const query = 'subscription { patientCreated { id } }';
    expect(snapshot.prepare(query)).toBe(snapshot.prepare(query));
    expect(snapshot.prepare(query)).not.toBe(snapshot.prepare(query, 'Other'));
  });

  it('returns validation errors instead of an operation', () => {
    const snapshot = createSupergraphSnapshot(supergraphSdl);
    const errors = snapshot.prepare('subscription { patientCreated { nope } }');
    expect('key' in errors).toBe(false);
    expect((errors as readonly { message: string }[])[0].message).toMatch(/Cannot query field "nope"/);
    expect('key' in snapshot.prepare('subscription A { patientCreated { id } } subscription B { patientCreated { id } }')).toBe(false);
  });

  it('serves a new supergraph to new operations while operations of the old one keep working', () => {
    const before = createSupergraphSnapshot(supergraphSdl);
    const running = prepared(before.prepare('subscription { patientCreated { id } }'));
    const after = createSupergraphSnapshot(supergraphSdl.replace('  userId: ID!\n', '  userId: ID!\n  nickname: String\n'));
    expect(after.version).toBeGreaterThan(before.version);
    expect('key' in before.prepare('subscription { patientCreated { nickname } }')).toBe(false);
    const renewed = prepared(after.prepare('subscription { patientCreated { id nickname } }'));
    expect(renewed.plan?.primary.operation).toContain('nickname');
    // The running one still holds its own snapshot, and never shares with the new version's.
    expect(running.snapshot).toBe(before);
    expect(prepared(after.prepare('subscription { patientCreated { id } }')).key).not.toBe(running.key);
  });
});
