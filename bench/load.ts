/**
 * A load process for the benchmarks: many sessions in one process, each on its own HTTP/2
 * connection, until it is stopped (SIGTERM). Prints `ready <n>` once every session is up, and
 * answers questions on stdin (`<question> <tag>` → `answer <tag> <json>`).
 *
 *   links  <tokens-file> <from:to> <server,server,…> [source-address] [links-per-second]
 *          linkd's own connection loop (LinkConnection) per link: Hello, heartbeats at the server's
 *          cadence, reconnects with linkd's backoff. Link i tries the first server, then the others
 *          in an order rotated by i (so a storm off the first spreads over the rest). With a rate,
 *          the links start at that pace (a fleet coming up), else all at once.
 *   raw    <host:port,host:port,…> <count> [streams-per-second]
 *          the baseline: plain grpc-js bidi streams with a heartbeat every 5 s, re-dialing the
 *          next address with the same backoff when a stream breaks; with a rate, started at that
 *          pace as `links` are.
 *   stream <server> <tokens-file> <from:to> <events-per-run> [events-per-second]
 *          agents that answer each dispatched run with that many events, as fast as the server
 *          acknowledges them, through linkd's own outbox (agent/runs/outbox.ts): one batch in
 *          flight, the rest made meanwhile with the next, and no more made while its window is
 *          full (as linkd stops reading a CLI that prints faster). With a rate, each run makes its
 *          events at that steady pace instead (a CLI printing as it works). Each log event's text
 *          is the hrtime (ns) it was made at.
 *
 * Questions: `report` → { connected, byServer, connects, errors, servers: [each link's server, ''
 * when not connected], connectedAt: [ms epoch of each link's latest connect] }.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { Backoff, sleep } from '../common/backoff.js';
import { createLogger } from '../common/log.js';
import { LinkConnection } from '../agent/connection.js';
import { CapabilitiesSchema, SandboxProviderKind } from '../gen/link/v1/types_pb.js';
import { RunStatus } from '../gen/link/v1/run_pb.js';
import { BenchAgent } from './agent.js';
import { RunOutbox } from '../agent/runs/outbox.js';
import { MAX_MESSAGE_BYTES } from '../common/protocol.js';

interface Session {
  connected: boolean;
  server: string;
  connectedAt: number;
}

const [mode, ...args] = process.argv.slice(2);
const sessions: Session[] = [];
let connects = 0;
/** Why sessions ended or failed, with how often. */
const errors = new Map<string, number>();
const closers: (() => Promise<void> | void)[] = [];
const tokensOf = (file: string, range: string) => {
  const [from, to] = range.split(':').map(Number);
  return readFileSync(file, 'utf8').trim().split('\n').slice(from, to);
};

/** Session i tries the first server, then the others rotated by i (so a storm spreads over them). */
function failoverOrder(list: string[], i: number): string[] {
  const rest = list.slice(1);
  const turn = i % Math.max(1, rest.length);
  return [list[0], ...rest.slice(turn), ...rest.slice(0, turn)];
}

function report() {
  const byServer: Record<string, number> = {};
  for (const s of sessions) if (s.connected) byServer[s.server] = (byServer[s.server] ?? 0) + 1;
  return {
    connected: sessions.filter((s) => s.connected).length,
    byServer,
    connects,
    errors: Object.fromEntries(errors),
    servers: sessions.map((s) => (s.connected ? s.server : '')),
    connectedAt: sessions.map((s) => s.connectedAt),
  };
}

async function allConnected(deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  let said = Date.now();
  while (sessions.some((s) => !s.connected)) {
    if (Date.now() > deadline) throw new Error(`only ${report().connected} of ${sessions.length} sessions connected within ${deadlineMs} ms`);
    if (Date.now() - said > 10_000) {
      said = Date.now();
      process.stderr.write(`${report().connected} of ${sessions.length} connected; errors: ${JSON.stringify(Object.fromEntries(errors))}\n`);
    }
    await sleep(50);
  }
}

if (mode === 'links') {
  const [tokensFile, range, servers, localAddress, pace] = args;
  const list = servers.split(',');
  const dir = mkdtempSync(join(tmpdir(), 'link-bench-load-'));
  closers.push(() => rmSync(dir, { recursive: true, force: true }));
  const log = createLogger({ name: 'load', level: 'silent' });
  const capabilities = create(CapabilitiesSchema, {
    harnesses: [{ name: 'shell', installed: true }],
    sandboxProviders: [{ kind: SandboxProviderKind.DIRECTORY, available: true }],
    capacity: { maxConcurrentRuns: 4 },
  });
  const connections: LinkConnection[] = [];
  const tokens = tokensOf(tokensFile, range);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (pace && i > 0 && i % 50 === 0) await sleep((50 * 1000) / Number(pace));
    const tokenFile = join(dir, `t${i}`);
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const order = failoverOrder(list, i);
    const session: Session = { connected: false, server: '', connectedAt: 0 };
    sessions.push(session);
    const connection = new LinkConnection({
      servers: order,
      tokenFile,
      machineId: `bench-${process.pid}-${i}`,
      instanceId: `bench-${process.pid}`,
      capabilities: () => capabilities,
      log,
      localAddress,
    });
    connection.on('state', (state) => {
      session.connected = state.state === 'connected';
      if (state.state === 'waiting') errors.set(state.lastError.slice(0, 120), (errors.get(state.lastError.slice(0, 120)) ?? 0) + 1);
      if (state.state === 'connected') {
        connects++;
        session.server = state.server;
        session.connectedAt = Date.now();
      }
    });
    void connection.run().then((why) => why.kind !== 'stopped' && process.stderr.write(`a link stopped for good: ${JSON.stringify(why)}\n`));
    connections.push(connection);
  }
  closers.push(() => Promise.all(connections.map((c) => c.close('bench over', 1_000))).then(() => undefined));
  await allConnected(600_000);
} else if (mode === 'raw') {
  const [targets, count, pace] = args;
  const list = targets.split(',');
  const identity = (x: Buffer) => x;
  const Client = grpc.makeGenericClientConstructor(
    { Connect: { path: '/bench.Raw/Connect', requestStream: true, responseStream: true, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } },
    'Raw',
  );
  let stopping = false;
  const options = { 'grpc.use_local_subchannel_pool': 1 };
  for (let i = 0; i < Number(count); i++) {
    if (pace && i > 0 && i % 50 === 0) await sleep((50 * 1000) / Number(pace));
    const session: Session = { connected: false, server: '', connectedAt: 0 };
    sessions.push(session);
    const order = failoverOrder(list, i);
    const backoff = new Backoff(500, 30_000);
    let current: { close(): void } | undefined;
    // One connection at a time, like linkd: dial, say hello, heartbeat; on a break, wait and dial the next.
    const loop = async () => {
      for (let attempt = 0; !stopping; attempt++) {
        const target = order[attempt % order.length];
        const client = new Client(target, grpc.credentials.createInsecure(), options) as unknown as { Connect(): grpc.ClientDuplexStream<Buffer, Buffer>; close(): void };
        current = client;
        const call = client.Connect();
        const ended = new Promise<void>((resolve) => {
          call.on('error', () => resolve());
          call.on('end', () => resolve());
        });
        let timer: NodeJS.Timeout | undefined;
        call.once('data', () => {
          backoff.reset();
          connects++;
          Object.assign(session, { connected: true, server: target, connectedAt: Date.now() });
          timer = setInterval(() => call.write(Buffer.alloc(8)), 5_000);
        });
        call.on('data', () => undefined);
        call.write(Buffer.from('hello'));
        await ended;
        clearInterval(timer);
        session.connected = false;
        client.close();
        if (!stopping) await sleep(backoff.next());
      }
    };
    void loop();
    closers.push(() => {
      stopping = true;
      current?.close();
    });
  }
  await allConnected(600_000);
} else if (mode === 'stream') {
  const [server, tokensFile, range, eventsEach, perSecond] = args;
  const total = BigInt(eventsEach);
  const rate = Number(perSecond ?? 0);
  const agents = tokensOf(tokensFile, range).map((token) => {
    // linkd's own outbox and pace: one batch in flight, what is made meanwhile goes with the next,
    // and the run waits while its window is full (as linkd stops reading a CLI's output).
    let outbox = new RunOutbox();
    let current = '';
    let wake: () => void = () => undefined;
    const session: Session = { connected: false, server, connectedAt: 0 };
    sessions.push(session);
    const flush = (self: BenchAgent) => {
      if (outbox.inFlight) return;
      while (outbox.hasUnsent) self.send({ frame: { case: 'runEvents', value: { runId: current, events: outbox.takeUnsent(MAX_MESSAGE_BYTES / 4) } } });
    };
    const agent = new BenchAgent(server, token, (response, self) => {
      if (response.frame.case === 'eventsAck' && response.frame.value.runId === current) {
        outbox.ack(response.frame.value.ackedSeq);
        flush(self);
        wake();
      }
      if (response.frame.case !== 'dispatchRun') return;
      const runId = response.frame.value.runId;
      current = runId;
      outbox = new RunOutbox();
      const mine = outbox;
      self.send({ frame: { case: 'runAccepted', value: { runId } } });
      void (async () => {
        const began = performance.now();
        while (mine.last < total) {
          while (mine.full) await new Promise<void>((resolve) => (wake = resolve));
          // At a rate: what is due by now (then a millisecond's pause), else what one read of a
          // CLI's output makes at most; then the acknowledgements get their turn.
          const due = rate > 0 ? BigInt(Math.floor(((performance.now() - began) * rate) / 1000)) : mine.last + 512n;
          for (let i = 0; i < 512 && mine.last < total && mine.last < due && !mine.full; i++) {
            const last = mine.last + 1n === total;
            mine.add({ event: last ? { case: 'done', value: { status: RunStatus.COMPLETED } } : { case: 'log', value: { text: String(process.hrtime.bigint()) } } });
          }
          flush(self);
          await new Promise<void>((resolve) => (rate > 0 ? setTimeout(resolve, 1) : setImmediate(resolve)));
        }
      })();
    });
    void agent.welcomed.then(() => Object.assign(session, { connected: true, connectedAt: Date.now() }), () => undefined);
    return agent;
  });
  closers.push(() => Promise.all(agents.map((a) => a.close())).then(() => undefined));
  await Promise.all(agents.map((a) => a.welcomed));
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}

process.stdout.write(`ready ${sessions.length}\n`);
createInterface({ input: process.stdin }).on('line', (line) => {
  const [question, tag] = line.split(' ');
  if (question === 'report') process.stdout.write(`answer ${tag} ${JSON.stringify(report())}\n`);
});
let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  const timer = setTimeout(() => process.exit(0), 5_000);
  void Promise.all(closers.map((close) => close())).finally(() => {
    clearTimeout(timer);
    process.exit(0);
  });
});
setInterval(() => undefined, 1 << 30);
