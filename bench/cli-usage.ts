/**
 * The `log-archiver` CLI, printing its own resource usage as the last line of stderr when it exits
 * (`BENCH-USAGE {…}`), so the bench can charge the archiver for exactly its CPU and memory.
 */
import { writeSync } from 'node:fs';

process.on('exit', () => {
  const usage = process.resourceUsage();
  writeSync(
    2,
    `BENCH-USAGE ${JSON.stringify({ cpuUserMs: usage.userCPUTime / 1000, cpuSystemMs: usage.systemCPUTime / 1000, maxRssBytes: usage.maxRSS * 1024 })}\n`,
  );
});
await import('../src/cli.js');
