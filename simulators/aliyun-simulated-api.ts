import type { AliyunRpcSimulator, AliyunSimulatorShell } from './aliyun-rpc.js';
import type { HttpSimulator } from './http-simulator.js';
import { SimulatedApi } from './simulated-api.js';

/**
 * An Alibaba Cloud product simulator: its actions are served by an {@link AliyunRpcSimulator}
 * (`rpc`), whose HTTP shell and accepted credentials it exposes.
 */
export abstract class AliyunSimulatedApi extends SimulatedApi implements AliyunSimulatorShell {
  abstract readonly rpc: AliyunRpcSimulator;

  protected get http(): HttpSimulator {
    return this.rpc.http;
  }

  /** Alibaba simulators have always handed out the call log itself, not a read-only view. */
  override get callTimes(): number[] {
    return this.rpc.http.callTimes;
  }

  /** The credentials a client must use to be accepted. */
  get credentials(): { accessKeyId: string; accessKeySecret: string; securityToken?: string } {
    return this.rpc.credentials;
  }
}
