import { describe, expect, it } from 'vitest';
import { executionLogsPageSchema } from '../src/providers/oos/execution-log.js';

describe('ListExecutionLogs page check', () => {
  const entry = {
    TaskExecutionId: 'exec-1.t0001',
    Message: '执行中 ✓',
    LogType: 'Task',
    Timestamp: '2026-01-01T00:00:00Z',
    Extra: { a: [1] },
  };

  it('accepts a page of entries and hands back the entries as sent (same objects, same key order)', () => {
    const body = { RequestId: 'r-1', NextToken: 't', IsTruncated: true, MaxResults: 100, ExecutionLogs: [entry, {}], Other: 1 };
    const parsed = executionLogsPageSchema.parse(body);
    expect(parsed.ExecutionLogs[0]).toBe(entry);
    expect(Object.keys(parsed.ExecutionLogs[0]!)).toEqual(Object.keys(entry));
    expect(parsed.ExecutionLogs).toHaveLength(2);
    expect(parsed).toMatchObject({ RequestId: 'r-1', NextToken: 't', IsTruncated: true, MaxResults: 100, Other: 1 });
    expect(executionLogsPageSchema.parse({ ExecutionLogs: [] }).ExecutionLogs).toEqual([]);
  });

  it.each([
    ['an entry that is a string', { ExecutionLogs: [entry, 'text'] }, 'ExecutionLogs'],
    ['an entry that is null', { ExecutionLogs: [null] }, 'ExecutionLogs'],
    ['an entry that is an array', { ExecutionLogs: [[entry]] }, 'ExecutionLogs'],
    ['an entry that is a number', { ExecutionLogs: [1] }, 'ExecutionLogs'],
    ['entries that are not an array', { ExecutionLogs: entry }, 'ExecutionLogs'],
    ['no entries at all', { RequestId: 'r' }, 'ExecutionLogs'],
    ['a NextToken that is not a string', { NextToken: 5, ExecutionLogs: [] }, 'NextToken'],
    ['an IsTruncated that is not a boolean', { IsTruncated: 'true', ExecutionLogs: [] }, 'IsTruncated'],
  ])('refuses a page with %s', (_what, body, path) => {
    const result = executionLogsPageSchema.safeParse(body);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual([path]);
  });
});
