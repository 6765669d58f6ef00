import { ProviderValidationError } from '../../errors/index.js';
import { providerClientOptions } from '../client-options.js';
import type { ProviderContext, SourceSpec } from '../provider.js';
import { AliyunRpcClient } from './client.js';
import type { AliyunCredentials } from './credentials.js';
import { ALIYUN_API_VERSIONS, type AliyunProduct } from './endpoints.js';

/** Builds the RPC client one drain of an Alibaba source uses. */
export function aliyunClientForSource<P>(
  source: SourceSpec<P, AliyunCredentials>,
  context: ProviderContext,
  product: AliyunProduct,
  defaultEndpoint: string | undefined,
  beforeAttempt?: () => Promise<void>,
): AliyunRpcClient {
  const endpoint = source.endpoint ?? defaultEndpoint;
  if (!endpoint) {
    throw new ProviderValidationError(`source ${source.id}: no endpoint; set sources[].endpoint or params.regionId`, {
      source: source.id,
      provider: source.provider,
      hint: 'set sources[].endpoint or params.regionId',
    });
  }
  return new AliyunRpcClient({
    endpoint,
    credentials: source.credentials,
    version: ALIYUN_API_VERSIONS[product],
    ...providerClientOptions(source, context),
    ...(beforeAttempt ? { beforeAttempt } : {}),
  });
}
