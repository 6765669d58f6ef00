import cronParser from 'cron-parser';
import type { Schedule } from '../config/index.js';

/** A schedule as the config spells it: `every 5m`, or `cron 0 * * * * (Asia/Shanghai)`. */
export function describeSchedule(schedule: Schedule): string {
  if ('every' in schedule) return `every ${formatDuration(schedule.every)}`;
  return `cron ${schedule.cron}${schedule.tz ? ` (${schedule.tz})` : ''}`;
}

/** When the schedule next fires after `lastRunAt` (ms), or after `now` for a cron; never before `now`. */
export function nextRunFromSchedule(schedule: Schedule, lastRunAt: number | undefined, now: number): number {
  if ('every' in schedule) return Math.max(now, (lastRunAt ?? now) + schedule.every);
  const next = cronParser
    .parseExpression(schedule.cron, { currentDate: new Date(now), ...(schedule.tz ? { tz: schedule.tz } : {}) })
    .next();
  return next.getTime();
}

/** `1h5m`, `30s`, `250ms`: a duration for a person, at most two units. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  const parts: string[] = [];
  let rest = Math.round(ms / 1000) * 1000;
  for (const [unit, size] of units) {
    if (rest >= size && parts.length < 2) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    } else if (parts.length > 0) {
      break;
    }
  }
  return parts.join('');
}
