/**
 * grpc.health.v1.Health: SERVING when the replica can take work (registry reachable, not
 * draining), NOT_SERVING otherwise. The empty service name and every Link service answer the same.
 */
import type { HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { Code, ConnectError } from '@connectrpc/connect';
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  type Health,
  type HealthCheckRequest,
} from '../../gen/grpc/health/v1/health_pb.js';
import { sleep } from '../../common/backoff.js';

export class HealthServiceImpl implements ServiceImpl<typeof Health> {
  constructor(
    private readonly isReady: () => boolean,
    private readonly services: string[],
  ) {}

  async check(request: HealthCheckRequest) {
    return { status: this.statusOf(request.service) };
  }

  async list() {
    const statuses: Record<string, { status: ServingStatus }> = {};
    for (const service of ['', ...this.services]) statuses[service] = { status: this.statusOf(service) };
    return { statuses };
  }

  /** Sends the status, then again each time it changes (checked every 500 ms), until cancelled. */
  async *watch(request: HealthCheckRequest, ctx: HandlerContext) {
    let last: ServingStatus | undefined;
    while (!ctx.signal.aborted) {
      const status = this.statusOf(request.service);
      if (status !== last) {
        last = status;
        yield { status };
      }
      await sleep(500, ctx.signal).catch(() => undefined);
    }
  }

  private statusOf(service: string): ServingStatus {
    if (service !== '' && !this.services.includes(service)) {
      throw new ConnectError(`unknown service ${service}`, Code.NotFound);
    }
    return this.isReady() ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  }
}
