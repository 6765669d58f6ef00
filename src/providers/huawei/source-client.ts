import { clientOptions } from '../kit/index.js';
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

/** The client one drain of a Huawei source uses. */
export function huaweiClientForSource<P extends HuaweiSourceParams>(
  source: SourceSpec<P, HuaweiCredentials>,
  context: ProviderContext,
  throttleFloorMs: number | undefined,
): HuaweiClient {
  return new HuaweiClient({
    ...clientOptions(source, context),
    endpoint: source.endpoint,
    credentials: source.credentials,
    projectId: source.params.projectId,
    throttleFloorMs,
  });
}
