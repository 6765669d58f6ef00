import type { AttemptPermit } from '../../http/index.js';
import { clientOptions } from '../kit/index.js';
import type { ProviderContext, SourceSpec } from '../provider.js';
import { AliyunRpcClient } from './client.js';
import type { AliyunCredentials } from './credentials.js';
import type { AliyunProduct } from './endpoints.js';

/** The RPC client one drain of an Alibaba source uses (`beforeAttempt`: e.g. a shared quota). */
export function aliyunClientForSource<P>(
  source: SourceSpec<P, AliyunCredentials>,
  context: ProviderContext,
  product: AliyunProduct,
  beforeAttempt?: () => Promise<AttemptPermit | undefined>,
): AliyunRpcClient {
  return new AliyunRpcClient({
    ...clientOptions(source, context),
    endpoint: source.endpoint,
    credentials: source.credentials,
    version: product.version,
    beforeAttempt,
  });
}
