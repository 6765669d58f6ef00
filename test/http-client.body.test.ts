import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient } from '../src/http/index.js';

// Bodies as a server sends them, in the chunks it writes them in (flushed one by one).
const BODIES: Record<string, Buffer[]> = {
  'one-chunk': [Buffer.from('{"Log":"数据质量 ✓ 🚀"}')],
  // A four-byte character and a three-byte one cut across chunk boundaries.
  'split-characters': (() => {
    const all = Buffer.from(`{"Log":"${'日志🚀'.repeat(5000)}"}`);
    return [all.subarray(0, 11), all.subarray(11, 70_001), all.subarray(70_001)];
  })(),
  bom: [Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}')],
  'invalid-utf8': [Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xe6, 0x95, 0xff, 0xc0, 0x80, 0xed, 0xa0, 0x80, 0x22, 0x7d])],
  empty: [],
};

let server: Server;
let base: string;
const http = new HttpClient({ timeoutMs: 2000 });

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks = BODIES[(req.url ?? '/').slice(1)] ?? [];
    res.writeHead(200, { 'content-type': 'application/json' });
    const next = (i: number): void => {
      if (i >= chunks.length) {
        res.end();
        return;
      }
      res.write(chunks[i]);
      setTimeout(() => next(i + 1), 5);
    };
    next(0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await http.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('HttpClient body decoding', () => {
  it.each(Object.keys(BODIES))('decodes a %s body exactly as Buffer#toString does, and counts its bytes', async (name) => {
    const sent = Buffer.concat(BODIES[name]!);
    const response = await http.send({ method: 'GET', url: new URL(`/${name}`, base), headers: {} });
    expect(response.statusCode).toBe(200);
    expect(response.bytes).toBe(sent.length);
    expect(response.body).toBe(sent.toString('utf8'));
  });
});
