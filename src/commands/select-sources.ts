import type { ArchiverConfig, SourceConfig } from '../config/index.js';
import { ConfigError } from '../errors/index.js';

/** The sources a command acts on: the named ones (all must exist) or every enabled one. */
export function selectSources(config: ArchiverConfig, names: readonly string[] | undefined): SourceConfig[] {
  if (!names || names.length === 0) return config.sources.filter((s) => s.enabled);
  const unknown = names.filter((name) => !config.sources.some((s) => s.id === name));
  if (unknown.length > 0) {
    throw new ConfigError(
      'unknown source',
      unknown.map((name) => ({ path: '--source', message: `no source with id ${name} in the config` })),
    );
  }
  return config.sources.filter((s) => names.includes(s.id));
}
