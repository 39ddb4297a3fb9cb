/**
 * linkd's Prometheus metrics, on a local port when asked (`--metrics-port`, 127.0.0.1 only): the
 * session, runs, events and the outbox. Every series is prefixed `linkd_`.
 */
import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

export class AgentMetrics {
  readonly registry = new Registry();
  readonly sessions: Counter<'outcome'>;
  readonly runsStarted: Counter<'harness'>;
  readonly runsFinished: Counter<'status'>;
  readonly events: Counter;

  constructor(read: { connected: () => boolean; outboxBytes: () => number; running: () => number }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'linkd_' });
    new Gauge({ name: 'linkd_connected', help: '1 while a session with the control plane is up', registers, collect() { this.set(read.connected() ? 1 : 0); } });
    new Gauge({ name: 'linkd_outbox_bytes', help: 'Run events not yet acknowledged by the control plane', registers, collect() { this.set(read.outboxBytes()); } });
    new Gauge({ name: 'linkd_runs_running', help: 'Runs executing now', registers, collect() { this.set(read.running()); } });
    this.sessions = new Counter({ name: 'linkd_sessions_total', help: 'Sessions with the control plane, by how they went', labelNames: ['outcome'], registers });
    this.runsStarted = new Counter({ name: 'linkd_runs_started_total', help: 'Runs started, by harness', labelNames: ['harness'], registers });
    this.runsFinished = new Counter({ name: 'linkd_runs_finished_total', help: 'Runs finished, by status', labelNames: ['status'], registers });
    this.events = new Counter({ name: 'linkd_run_events_total', help: 'Run events produced', registers });
  }

  /** Serves /metrics on 127.0.0.1:port. */
  async serve(port: number): Promise<Server> {
    const server = createServer((req, res) => {
      if (req.url !== '/metrics') return void res.writeHead(404).end('not found\n');
      void this.registry.metrics().then((body) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(body));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    server.unref();
    return server;
  }
}
