import { describe, expect, it } from 'vitest';
import { compareKeys } from '../src/storage/index.js';

describe('compareKeys', () => {
  it('orders keys by their UTF-8 bytes, as S3 lists them, also where UTF-16 order disagrees', () => {
    // U+FF21 (3 UTF-8 bytes, one UTF-16 unit above the surrogates) sorts before U+1F600 (4 bytes, a surrogate pair).
    const keys = ['a/b', 'a-b', 'a', 'ab', 'é', 'Ａ', '😀', 'a😀', 'aＡ', 'a/😀', 'a/Ａ', '', 'z', 'a\u007f', 'a\u0080'];
    const bytes = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x, 'utf8'), Buffer.from(y, 'utf8')));
    expect([...keys].sort(compareKeys)).toEqual(bytes);
    expect(compareKeys('Ａ', '😀')).toBeLessThan(0);
    expect('Ａ' < '😀').toBe(false);
    expect(compareKeys('x', 'x')).toBe(0);
  });
});
