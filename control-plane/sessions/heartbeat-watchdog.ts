/**
 * One timer for the heartbeat watchdogs of all of a replica's sessions. Each session only writes
 * the time of its last heartbeat into a field; every half interval one sweep looks at all of them
 * and tells the ones silent for more than three intervals that they missed their heartbeats.
 *
 *   heartbeat ─▶ session.lastHeartbeatAt = now          (a field write, no timer touched)
 *   every interval/2 ─▶ sweep: silent > 3 intervals ─▶ unwatched, session.heartbeatsMissed(silentForMs)
 *
 * A timer per session (10k sessions: 4k timer callbacks a second at the default 5 s cadence) costs
 * more than one sweep reading 10k numbers twice an interval; a wheel or a sorted list would save
 * the sweep's reads but make every heartbeat move its session in it. A session is declared lost
 * between 3 and 3.5 intervals after its last heartbeat, as with a timer of its own at interval/2.
 */

/** A session as the watchdog sees it. */
export interface Watched {
  /** When its last heartbeat (or the Welcome) was seen, in ms since the epoch. */
  readonly lastHeartbeatAt: number;
  /** Called once, from the sweep, when it has been silent for more than three intervals; it is no longer watched. */
  heartbeatsMissed(silentForMs: number): void;
}

export class HeartbeatWatchdog {
  private readonly watched = new Set<Watched>();
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param intervalMs the cadence agents are asked to heartbeat at (three missed end a session)
   * @param now the clock (a test may pass its own)
   */
  constructor(
    readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** How many sessions are watched. */
  get size(): number {
    return this.watched.size;
  }

  /**
   * Watches `session` until it misses its heartbeats or the returned function is called (the
   * caller owes that call when the session ends another way; it is idempotent). The timer runs only
   * while something is watched.
   */
  watch(session: Watched): () => void {
    this.watched.add(session);
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(), Math.max(10, Math.floor(this.intervalMs / 2)));
      this.timer.unref();
    }
    return () => this.unwatch(session);
  }

  /** Checks every watched session now (the timer calls it; a test may too). */
  sweep(): void {
    const now = this.now();
    const limit = 3 * this.intervalMs;
    const missed: [Watched, number][] = [];
    for (const session of this.watched) {
      const silentFor = now - session.lastHeartbeatAt;
      if (silentFor > limit) missed.push([session, silentFor]);
    }
    for (const [session, silentFor] of missed) {
      this.unwatch(session);
      session.heartbeatsMissed(silentFor);
    }
  }

  private unwatch(session: Watched): void {
    if (!this.watched.delete(session) || this.watched.size > 0) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Stops the timer and forgets every session (they are not told). */
  stop(): void {
    this.watched.clear();
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
