/** A Huawei Cloud service by its endpoint prefix (`dayu`, `dws`), as its provider file names it. */
export type HuaweiService = string;

/** Public endpoint of a service in a region: `https://dayu.cn-north-4.myhuaweicloud.com`. */
export function huaweiEndpoint(service: HuaweiService, region: string): string {
  return `https://${service}.${region}.myhuaweicloud.com`;
}
