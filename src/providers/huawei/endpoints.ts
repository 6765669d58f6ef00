/** Huawei Cloud services this archiver calls, by their endpoint prefix. */
export type HuaweiService = 'dayu' | 'dws';

/** Public endpoint of a service in a region: `https://dayu.cn-north-4.myhuaweicloud.com`. */
export function huaweiEndpoint(service: HuaweiService, region: string): string {
  return `https://${service}.${region}.myhuaweicloud.com`;
}
