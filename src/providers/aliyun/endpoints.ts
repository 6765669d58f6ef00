/** API versions of the products, which the seed pages leave out (see docs/architecture.md, "Clouds"). */
export const ALIYUN_API_VERSIONS = {
  dataworks: '2024-05-18',
  sddp: '2019-01-03',
  oos: '2019-06-01',
} as const;

export type AliyunProduct = keyof typeof ALIYUN_API_VERSIONS;

/** Default public endpoint of a product in a region (`https://oos.cn-hangzhou.aliyuncs.com`). */
export function aliyunEndpoint(product: AliyunProduct, regionId: string | undefined): string | undefined {
  if (!regionId) return undefined;
  return `https://${product}.${regionId}.aliyuncs.com`;
}
