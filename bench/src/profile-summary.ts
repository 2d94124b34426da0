/**
 * Summarizes a V8 .cpuprofile (from BENCH_CPU_PROF): self time by package and by function.
 * Usage: node bench/dist/profile-summary.js <file.cpuprofile> [top]
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** The project root (bench/dist → ../..): the project's own files are named from it. */
const ROOT = `${resolve(__dirname, '..', '..')}/`;

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
const [file, topArg] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const self = new Map<number, number>();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const byPackage = new Map<string, number>();
const byFunction = new Map<string, number>();
let total = 0;
for (const node of profile.nodes) {
  const us = self.get(node.id) ?? 0;
  if (node.callFrame.functionName === '(idle)') continue;
  total += us;
  const url = node.callFrame.url;
  const pkg = url.includes('node_modules/') ? url.split('node_modules/').pop()!.split('/').slice(0, url.split('node_modules/').pop()!.startsWith('@') ? 2 : 1).join('/') : url.includes('/dist/') ? `phos:${url.split(ROOT)[1] ?? url}` : url.startsWith('node:') ? 'node:internal' : node.callFrame.functionName || '(native)';
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  const fn = `${node.callFrame.functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${node.callFrame.lineNumber + 1}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
}
const top = Number(topArg ?? 25);
const show = (title: string, map: Map<string, number>) => {
  console.log(`\n${title} (busy ${(total / 1000).toFixed(0)} ms)`);
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${name}`);
};
show('self time by package', byPackage);
show('self time by function', byFunction);
