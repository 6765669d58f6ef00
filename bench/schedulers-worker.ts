/**
 * The `log-archiver` CLI as the scheduler case runs it: importing it here makes the bench's own
 * compile build it (and the worker it loads), so the case never runs a stale `dist/` of another build.
 */
import '../src/cli.js';
