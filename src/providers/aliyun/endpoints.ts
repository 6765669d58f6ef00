/**
 * An Alibaba Cloud product as its provider file names it: the endpoint prefix and the OpenAPI
 * version it is called with (the seed pages leave the versions out; see docs/architecture.md).
 */
export interface AliyunProduct {
  /** Endpoint prefix: `oos` in `oos.cn-hangzhou.aliyuncs.com`. */
  code: string;
  /** API version of the product (`2019-06-01`). */
  version: string;
}

/** Default public endpoint of a product in a region (`https://oos.cn-hangzhou.aliyuncs.com`). */
export function aliyunEndpoint(product: AliyunProduct, regionId: string | undefined): string | undefined {
  if (!regionId) return undefined;
  return `https://${product.code}.${regionId}.aliyuncs.com`;
}
