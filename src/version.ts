import { readFileSync } from 'node:fs';

/** The package version, read once from package.json (two levels up from dist/src). */
export const VERSION: string = (() => {
  for (const candidate of ['../../package.json', '../package.json']) {
    try {
      const parsed = JSON.parse(readFileSync(new URL(candidate, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (parsed.name === 'log-archiver' && parsed.version) return parsed.version;
    } catch {
      // try the next layout (sources run by vitest sit one level higher than dist)
    }
  }
  return '0.0.0';
})();
