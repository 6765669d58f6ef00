import { ProviderValidationError } from '../../errors/index.js';
import { providerClientOptions } from '../client-options.js';
import type { ProviderContext, SourceSpec } from '../provider.js';
import { HuaweiClient } from './client.js';
import type { HuaweiCredentials } from './credentials.js';
import { huaweiEndpoint, type HuaweiService } from './endpoints.js';

/** The params every Huawei source carries: its project, and a region for the default endpoint. */
export interface HuaweiSourceParams {
  projectId: string;
  /** Region (`cn-north-4`) for the default endpoint `https://{service}.{region}.myhuaweicloud.com`. */
  region?: string | undefined;
}

/** The service's public endpoint in the source's region, when a region is given. */
export function huaweiDefaultEndpoint(service: HuaweiService, params: HuaweiSourceParams): string | undefined {
  return params.region ? huaweiEndpoint(service, params.region) : undefined;
}

/** Builds the client one drain of a Huawei source uses. */
export function huaweiClientForSource<P extends HuaweiSourceParams>(
  source: SourceSpec<P, HuaweiCredentials>,
  context: ProviderContext,
  service: HuaweiService,
  throttleFloorMs: number | undefined,
): HuaweiClient {
  const endpoint = source.endpoint ?? huaweiDefaultEndpoint(service, source.params);
  if (!endpoint) {
    throw new ProviderValidationError(`${source.id}: no endpoint`, {
      source: source.id,
      provider: source.provider,
      hint: 'set sources[].endpoint or params.region',
    });
  }
  return new HuaweiClient({
    endpoint,
    credentials: source.credentials,
    ...providerClientOptions(source, context),
    projectId: source.params.projectId,
    throttleFloorMs,
  });
}
