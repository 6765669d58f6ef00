/** The oldest Node.js the archiver supports, as package.json `engines` says. */
export const SUPPORTED_NODE = { major: 22, minor: 12 } as const;

/**
 * A warning for a Node.js older than the supported one, or undefined. The archiver still runs
 * there (refusing would stop a working deployment at an upgrade of the package), but such a
 * release is out of maintenance and some features are missing (proxies, the heap settings'
 * restart), so an operator must hear of it on every start rather than find out in an incident.
 */
export function unsupportedNodeWarning(version: string = process.versions.node): string | undefined {
  if (nodeAtLeast(version, SUPPORTED_NODE.major, SUPPORTED_NODE.minor)) return undefined;
  return (
    `log-archiver: Node.js ${version} is not supported (it needs ${SUPPORTED_NODE.major}.${SUPPORTED_NODE.minor} or newer; ` +
    'the image and CI run Node.js 24, the current LTS). It may fail where a supported release would not: upgrade Node.js.'
  );
}

/** Whether a Node.js version (`process.versions.node`) is `major.minor` or later. */
export function nodeAtLeast(version: string, major: number, minor: number): boolean {
  const [given = 0, givenMinor = 0] = version.split('.').map(Number);
  return given > major || (given === major && givenMinor >= minor);
}
