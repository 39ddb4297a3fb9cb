/**
 * The control plane's Prometheus metrics, served at /metrics on the HTTP port. Every series is
 * prefixed `link_server_`; Node's default process metrics come along.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export class ServerMetrics {
  readonly registry = new Registry();
  readonly sessionsOpened: Counter;
  readonly sessionsClosed: Counter<'reason'>;
  readonly heartbeats: Counter;
  readonly dispatchLatency: Histogram;
  readonly runsFinished: Counter<'state' | 'reason'>;
  readonly eventsStored: Counter;
  readonly eventBatchesPerCommit: Histogram;
  readonly notificationLag: Histogram<'channel'>;
  readonly registryErrors: Counter;
  readonly databaseErrors: Counter;

  constructor(linksConnected: () => number) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'link_server_' });
    new Gauge({ name: 'link_server_links_connected', help: 'Links with a live session on this replica', registers, collect() { this.set(linksConnected()); } });
    this.sessionsOpened = new Counter({ name: 'link_server_sessions_opened_total', help: 'Link sessions opened', registers });
    this.sessionsClosed = new Counter({ name: 'link_server_sessions_closed_total', help: 'Link sessions closed, by reason', labelNames: ['reason'], registers });
    this.heartbeats = new Counter({ name: 'link_server_heartbeats_total', help: 'Heartbeats received from agents', registers });
    this.dispatchLatency = new Histogram({
      name: 'link_server_dispatch_latency_seconds',
      help: 'From a run being queued to its DispatchRun being sent to the machine',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
      registers,
    });
    this.runsFinished = new Counter({ name: 'link_server_runs_finished_total', help: 'Runs that ended, by state and failure reason', labelNames: ['state', 'reason'], registers });
    this.eventsStored = new Counter({ name: 'link_server_run_events_stored_total', help: 'Run events stored', registers });
    this.eventBatchesPerCommit = new Histogram({
      name: 'link_server_event_batches_per_commit',
      help: 'Event batches of several runs stored by one group commit (a batch stored alone is not counted)',
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers,
    });
    this.notificationLag = new Histogram({
      name: 'link_server_notification_lag_seconds',
      help: 'From a Postgres NOTIFY being sent to this replica handling it',
      labelNames: ['channel'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
      registers,
    });
    this.registryErrors = new Counter({ name: 'link_server_registry_errors_total', help: 'Registry (etcd) operations that failed', registers });
    this.databaseErrors = new Counter({ name: 'link_server_database_errors_total', help: 'Requests that failed on a database error', registers });
  }
}
