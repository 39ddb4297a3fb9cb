import { createContextKey } from '@connectrpc/connect';

/** The caller's IP address as the transport saw it ("127.0.0.1", "::1"). */
export const peerAddressKey = createContextKey<string>('', { description: 'peer address' });

/** Which port the call came in on: the gRPC port (grpc-js) or the HTTP port (connect-node). */
export const transportKey = createContextKey<'grpc' | 'http'>('grpc', { description: 'transport' });
