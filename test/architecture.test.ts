import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'src');

/** Relative imports of every TypeScript file under src/, as [importer, imported] paths relative to src/. */
function relativeImports(): [string, string][] {
  const files = (readdirSync(SRC, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
  const edges: [string, string][] = [];
  for (const file of files) {
    const text = readFileSync(join(SRC, file), 'utf8');
    for (const match of text.matchAll(/\bfrom '(\.{1,2}\/[^']+)'/g)) {
      const target = normalize(join(dirname(file), match[1]!)).replace(/\.js$/, '.ts');
      edges.push([file, relative('.', target)]);
    }
  }
  return edges;
}

/** The module a file belongs to: its folder under src/, or the file itself at the top. */
const moduleOf = (path: string): string => (path.includes('/') ? path.slice(0, path.indexOf('/')) : path);

/** Every cycle of the module graph, as the modules on it (strongly connected components of two or more). */
function cycles(graph: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next += 1;
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      for (;;) {
        const w = stack.pop()!;
        component.push(w);
        if (w === v) break;
      }
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('architecture', () => {
  const edges = relativeImports();

  it('finds the imports it checks (a parser that sees none would pass anything)', () => {
    expect(edges.length).toBeGreaterThan(100);
    expect(edges).toContainEqual(['drain/drain.ts', 'archive/index.ts']);
  });

  it('imports between the folders of src/ point one way: no module imports, through others, one that imports it', () => {
    const graph = new Map<string, Set<string>>();
    for (const [from, to] of edges) {
      const [a, b] = [moduleOf(from), moduleOf(to)];
      if (a === b) continue;
      if (!graph.has(a)) graph.set(a, new Set());
      graph.get(a)!.add(b);
    }
    expect(cycles(graph)).toEqual([]);
  });

  it('nothing reaches into another folder of src/: imports across folders name its index.ts', () => {
    const inward = edges.filter(([from, to]) => {
      const [a, b] = [moduleOf(from), moduleOf(to)];
      // Only folders of src/: jobs/ (outside) holds entry points the CLI loads one by one.
      return a !== b && !to.startsWith('..') && to.includes('/') && !to.endsWith('/index.ts');
    });
    expect(inward).toEqual([]);
  });
});
