#!/usr/bin/env node
import { restartWithHeapSettings } from './heap-settings.js';
import { unsupportedNodeWarning } from './node-support.js';

/** Commands that move data: they run with the archiver's heap settings (see heap-settings.ts). */
const DATA_COMMANDS = new Set(['worker', 'run-once', 'demo', 'verify', 'export']);

// The entry point. Heap settings first, before the program's modules load: restarting costs only
// Node's own start.
if (DATA_COMMANDS.has(process.argv[2] ?? '')) restartWithHeapSettings();
// On stderr, so a command's own output (NDJSON of `export`, `status --json`) stays parseable.
const warning = unsupportedNodeWarning();
if (warning !== undefined) process.stderr.write(`${warning}\n`);
await import('./program.js');
