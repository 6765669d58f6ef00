/**
 * Summarises a V8 `.cpuprofile` (as `npm run bench -- --cpu-prof` writes): self time per function
 * and per file, so a bottleneck can be named with numbers without opening DevTools.
 *
 * Usage: node dist/bench/profile-summary.js bench/results/profiles/<case>.cpuprofile [top=25]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const path = process.argv[2];
if (!path) {
  process.stderr.write('usage: profile-summary <file.cpuprofile> [top]\n');
  process.exit(2);
}
const top = Number(process.argv[3] ?? 25);
const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
const short = (url: string): string => url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/');
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
const META = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/** Nearest caller with a script, for builtins (JSON.parse, string ops) that have none. */
function jsCaller(id: number): string {
  for (let p = parentOf.get(id); p !== undefined; p = parentOf.get(p)) {
    const frame = byId.get(p)!.callFrame;
    if (frame.url !== '') return `${frame.functionName || '(anonymous)'} ${short(frame.url)}:${frame.lineNumber + 1}`;
  }
  return '?';
}
const selfUs = new Map<number, number>();
for (const [i, id] of profile.samples.entries()) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
const total = profile.endTime - profile.startTime;

const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
for (const [id, us] of selfUs) {
  const node = byId.get(id)!;
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url === '' ? `(${functionName || 'native'})` : short(url);
  const fn =
    url !== ''
      ? `${functionName || '(anonymous)'}  ${file}:${lineNumber + 1}`
      : META.has(functionName)
        ? functionName
        : `[builtin ${functionName || 'native'}] in ${jsCaller(id)}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  byFile.set(file, (byFile.get(file) ?? 0) + us);
}

const print = (title: string, map: Map<string, number>): void => {
  process.stdout.write(`\n${title}\n`);
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${(us / 1000).toFixed(0).padStart(7)} ms ${((us / total) * 100).toFixed(1).padStart(5)}%  ${name}\n`);
  }
};
process.stdout.write(`${path}: ${(total / 1e6).toFixed(2)} s profiled\n`);
print('self time by function', byFunction);
print('self time by file', byFile);
