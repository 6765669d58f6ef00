import { createRequire } from 'node:module';

/**
 * A CommonJS dependency loaded on first use rather than with the module that needs it: what only
 * some configurations use (the AWS SDK, ioredis) costs a process that never uses it no memory.
 * `require`, not `import()`, so that callers stay synchronous; for a package that ships CommonJS
 * only, this is the very module instance an `import` of it gives (one copy, one set of classes).
 */
export function lazyModule<T>(specifier: string): () => T {
  const require = createRequire(import.meta.url);
  let loaded: T | undefined;
  return () => {
    loaded ??= require(specifier) as T;
    return loaded;
  };
}
