/**
 * The idle-links baseline server: plain grpc-js on 127.0.0.1, one bidi method that answers each
 * message with an 8-byte ack. Prints its port.
 */
import * as grpc from '@grpc/grpc-js';

const identity = (x: Buffer) => x;
const server = new grpc.Server({ 'grpc.keepalive_time_ms': 5_000, 'grpc.keepalive_timeout_ms': 4_000, 'grpc.keepalive_permit_without_calls': 1 });
server.addService(
  { Connect: { path: '/bench.Raw/Connect', requestStream: true, responseStream: true, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity, originalName: 'Connect' } } as grpc.ServiceDefinition,
  {
    Connect: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', () => call.write(Buffer.alloc(8)));
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  },
);
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  process.stdout.write(`port ${port}\n`);
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
