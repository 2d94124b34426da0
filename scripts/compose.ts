/**
 * `npm run compose`: builds schema/supergraph.graphql from schema/<subgraph>.graphql with Apollo's own
 * composition library. The URLs written into it come from schema/subgraphs.json; the gateway can override
 * them at run time (IDENTITY_URL, PATIENTS_URL).
 */
import { composeServices } from '@apollo/composition';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'graphql';

const schemaDir = resolve(__dirname, '..', '..', 'schema');
const urls = JSON.parse(readFileSync(join(schemaDir, 'subgraphs.json'), 'utf8')) as Record<string, string>;

const services = Object.entries(urls).map(([name, url]) => ({
  name,
  url,
  typeDefs: parse(readFileSync(join(schemaDir, `${name}.graphql`), 'utf8')),
}));

const result = composeServices(services);
if (result.errors) {
  for (const error of result.errors) process.stderr.write(`compose: ${error.message}\n`);
  process.exit(1);
}
const target = join(schemaDir, 'supergraph.graphql');
writeFileSync(target, `${result.supergraphSdl.trimEnd()}\n`);
for (const hint of result.hints ?? []) process.stderr.write(`compose hint: ${hint.toString()}\n`);
process.stdout.write(`compose: wrote schema/supergraph.graphql from ${services.map((s) => s.name).join(', ')}\n`);
