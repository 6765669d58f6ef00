import type { DrainProgress } from '../drain/index.js';

export interface ProgressOptions {
  /** Redraws a live block of lines (a terminal) instead of printing plain periodic lines. */
  live: boolean;
  /** Interval of the plain lines. */
  everyMs: number;
  /** Raw text to stdout. */
  write: (text: string) => void;
  /** Terminal width, for cutting live lines so they never wrap. */
  columns?: () => number;
  now?: () => number;
}

interface Tracked {
  started: number;
  progress: DrainProgress;
}

const LIVE_REDRAW_MS = 250;

/**
 * What `run-once` shows while it drains: per running source the records and pages read, the
 * rate and the stream it is on. On a terminal a live block is redrawn in place; elsewhere
 * (cron, a pipe, a log file) a plain line per source is printed every `everyMs`.
 */
export class ProgressBoard {
  readonly #options: ProgressOptions;
  readonly #active = new Map<string, Tracked>();
  readonly #timer: NodeJS.Timeout;
  readonly #now: () => number;
  #drawn = 0;

  constructor(options: ProgressOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#timer = setInterval(() => this.#tick(), options.live ? LIVE_REDRAW_MS : options.everyMs);
    this.#timer.unref();
  }

  /** Starts showing `source`; returns the callback a drain reports its progress to. */
  track(source: string): (progress: DrainProgress) => void {
    const tracked: Tracked = { started: this.#now(), progress: { pages: 0, records: 0, committed: 0, objects: 0, stream: undefined } };
    this.#active.set(source, tracked);
    return (progress) => {
      tracked.progress = progress;
    };
  }

  /** Stops showing `source` and prints `line` (its result) above the live block. */
  finish(source: string, line: string | undefined): void {
    this.#active.delete(source);
    this.print(line);
  }

  /** Prints a line that stays (a result), keeping the live block below it. */
  print(line: string | undefined): void {
    if (!this.#options.live) {
      if (line !== undefined) this.#options.write(`${line}\n`);
      return;
    }
    this.#clear();
    if (line !== undefined) this.#options.write(`${line}\n`);
    this.#draw();
  }

  /** Removes the live block and stops the timer. */
  close(): void {
    clearInterval(this.#timer);
    if (this.#options.live) this.#clear();
  }

  #tick(): void {
    if (this.#options.live) {
      this.#clear();
      this.#draw();
      return;
    }
    for (const [source, tracked] of this.#active) this.#options.write(`progress ${describe(source, tracked, this.#now())}\n`);
  }

  #draw(): void {
    const width = Math.max(20, (this.#options.columns?.() ?? 100) - 1);
    const lines = [...this.#active].map(([source, tracked]) => `  ${describe(source, tracked, this.#now())}`.slice(0, width));
    if (lines.length > 0) this.#options.write(`${lines.join('\n')}\n`);
    this.#drawn = lines.length;
  }

  #clear(): void {
    // Cursor up to the first line of the block, then erase to the end of the screen.
    if (this.#drawn > 0) this.#options.write(`\x1b[${this.#drawn}F\x1b[J`);
    this.#drawn = 0;
  }
}

function describe(source: string, tracked: Tracked, now: number): string {
  const { progress } = tracked;
  const seconds = Math.max(0.001, (now - tracked.started) / 1000);
  const rate = Math.round(progress.records / seconds);
  const stream = progress.stream ? `, on ${formatStream(progress.stream)}` : '';
  return (
    `${source}: ${progress.records} records, ${progress.pages} pages, ${rate} records/s${stream}` +
    ` (${progress.committed} committed in ${progress.objects} objects, ${Math.round(seconds)} s)`
  );
}

function formatStream(context: Record<string, unknown>): string {
  return Object.entries(context)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
}
