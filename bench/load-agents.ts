/**
 * A load generator process for the idle-links benchmark: opens sessions and keeps them idle
 * (heartbeats only) until it is stopped. Each session has its own HTTP/2 connection.
 *
 *   node --import tsx bench/load-agents.ts link <grpc-url> <tokens-file> <from> <to>
 *   node --import tsx bench/load-agents.ts raw  <host:port> <count>
 *
 * Prints "ready <n>" once every session is up (welcomed, or its stream open for raw).
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { BenchAgent } from './stack.js';

const [mode, target, a, b] = process.argv.slice(2);
const closers: (() => Promise<void> | void)[] = [];

if (mode === 'link') {
  const tokens = readFileSync(a, 'utf8').trim().split('\n').slice(Number(b.split(':')[0]), Number(b.split(':')[1]));
  const agents: BenchAgent[] = [];
  for (let i = 0; i < tokens.length; i++) {
    agents.push(new BenchAgent(target, tokens[i]));
    if (i % 200 === 199) {
      await Promise.all(agents.slice(-200).map((x) => x.welcomed)).catch((error) => {
        process.stderr.write(`a session failed to start: ${(error as Error).message}\n`);
        process.exit(1);
      });
    }
  }
  await Promise.all(agents.map((x) => x.welcomed)).catch((error) => {
    process.stderr.write(`a session failed to start: ${(error as Error).message}\n`);
    process.exit(1);
  });
  for (const agent of agents) closers.push(() => agent.close());
  process.stdout.write(`ready ${agents.length}\n`);
} else if (mode === 'raw') {
  // The baseline: plain grpc-js bidi streams, one connection each, heartbeats every 5 s.
  const count = Number(a);
  const identity = (x: Buffer) => x;
  const Client = grpc.makeGenericClientConstructor(
    { Connect: { path: '/bench.Raw/Connect', requestStream: true, responseStream: true, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } },
    'Raw',
  );
  let open = 0;
  for (let i = 0; i < count; i++) {
    const client = new Client(target, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }) as unknown as { Connect(): grpc.ClientDuplexStream<Buffer, Buffer>; close(): void };
    const call = client.Connect();
    call.on('error', () => undefined);
    await new Promise<void>((resolve) => {
      call.once('data', () => resolve());
      call.write(Buffer.from('hello'));
    });
    open++;
    const timer = setInterval(() => call.write(Buffer.alloc(8)), 5_000);
    closers.push(() => {
      clearInterval(timer);
      call.end();
      client.close();
    });
  }
  process.stdout.write(`ready ${open}\n`);
}

process.on('SIGTERM', () => {
  void Promise.all(closers.map((close) => close())).finally(() => process.exit(0));
});
setInterval(() => undefined, 1 << 30);
