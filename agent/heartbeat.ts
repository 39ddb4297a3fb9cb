/**
 * The agent's heartbeat on a live session: a Heartbeat frame every interval (the server sets it in
 * Welcome). The server answers each with HeartbeatAck; when three intervals pass without one, the
 * session is presumed dead and `onDead` ends it, so linkd reconnects instead of talking to nobody.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Channel } from '../common/channel.js';
import type { ConnectRequestSchema } from '../gen/link/v1/link_service_pb.js';

type Frame = MessageInitShape<typeof ConnectRequestSchema>;

export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private seq = 0n;
  private lastAckAt = 0;

  constructor(
    private readonly out: Channel<Frame>,
    private readonly onDead: () => void,
    private readonly runningRuns: () => number = () => 0,
  ) {}

  start(intervalMs: number): void {
    this.stop();
    this.lastAckAt = Date.now();
    const interval = Math.max(50, intervalMs);
    this.timer = setInterval(() => {
      if (Date.now() - this.lastAckAt > 3 * interval) {
        this.stop();
        this.onDead();
        return;
      }
      this.seq++;
      this.out.push({ frame: { case: 'heartbeat', value: { seq: this.seq, runningRuns: this.runningRuns() } } });
    }, interval);
  }

  acknowledged(_seq: bigint): void {
    this.lastAckAt = Date.now();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
