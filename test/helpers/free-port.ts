import { createServer } from 'node:net';

/** A TCP port free on 127.0.0.1 right now (the OS picks it; another process may still take it). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/**
 * Starts a server on a free port and resolves with the port. A port can be taken between choosing
 * and binding, so when `launch` fails the attempt is `abandon`ed (the half-started process killed)
 * and a new port tried, up to `attempts` times. The last abandon is `final` (undo the rest of the
 * setup too); then the last error is rethrown.
 */
export async function launchOnFreePort(
  launch: (port: number) => Promise<void>,
  abandon: (final: boolean) => Promise<void>,
  attempts = 3,
): Promise<number> {
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    try {
      await launch(port);
      return port;
    } catch (error) {
      const final = attempt >= attempts;
      await abandon(final);
      if (final) throw error;
    }
  }
}
