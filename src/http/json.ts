import sjson from 'secure-json-parse';
import { ProviderResponseError, type ProviderErrorDetails } from '../errors/index.js';

/**
 * Parses a provider body. Rejects prototype-poisoning keys (`__proto__`, `constructor.prototype`)
 * instead of silently dropping them: a body carrying them is not one we archive verbatim.
 */
export function parseJsonBody(text: string, details: ProviderErrorDetails = {}): unknown {
  const head = text.trimStart().slice(0, 1);
  if (head !== '{' && head !== '[') {
    const kind = /^<(!doctype|html)/i.test(text.trimStart()) ? 'an HTML page' : 'not JSON';
    throw new ProviderResponseError(`provider answered with ${kind} (${text.length} bytes)`, details);
  }
  try {
    return sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (cause) {
    throw new ProviderResponseError(`provider body is malformed or truncated JSON: ${(cause as Error).message}`, {
      ...details,
      cause,
    });
  }
}
