/**
 * A TCP proxy on 127.0.0.1 in front of a server, so a test can cut live connections (as a flaky
 * network would) while both ends stay up.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  cuts = 0;
  /** While set, every connection is reset at once (the server behind looks down). */
  blocked = false;
  /** While set, new connections are accepted but go nowhere until release() (a network outage). */
  private held: (() => void)[] | undefined;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    const sockets = new Set<Socket>();
    let proxy!: TcpProxy;
    const server = createServer((client) => {
      if (proxy.blocked) {
        client.on('error', () => undefined);
        client.resetAndDestroy();
        return;
      }
      if (proxy.held) {
        // What the client sends waits in its socket until the outage ends.
        client.on('error', () => undefined);
        sockets.add(client);
        client.once('close', () => sockets.delete(client));
        proxy.held.push(() => !client.destroyed && forward(client));
        return;
      }
      forward(client);
    });
    const forward = (client: Socket) => {
      const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    };
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    proxy = new TcpProxy(server, typeof address === 'object' && address ? address.port : 0);
    (proxy as unknown as { sockets: Set<Socket> }).sockets = sockets;
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Resets every connection through the proxy. */
  cutAll(): void {
    this.cuts++;
    for (const socket of this.sockets) socket.resetAndDestroy();
  }

  /** The server behind goes away: live connections are reset and new ones refused, until unblock(). */
  block(): void {
    this.blocked = true;
    this.cutAll();
  }

  unblock(): void {
    this.blocked = false;
  }

  /**
   * A network outage: live connections are reset, and new ones are accepted but carry nothing
   * until release(), when they go through at once (so the client's reconnect backoff does not
   * stretch the outage).
   */
  hold(): void {
    this.held ??= [];
    this.cutAll();
  }

  release(): void {
    const waiting = this.held ?? [];
    this.held = undefined;
    for (const go of waiting) go();
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
