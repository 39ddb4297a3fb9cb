/**
 * LinkService: the agent's session (`connect`, handed to the LinkSessionHub) and the user's view of
 * their machines. A link's view joins what the account store knows (name, created, last seen) with
 * its live presence record, if it has one.
 */
import { create, fromJson, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { Channel } from '../../common/channel.js';
import { checkLength, Code, linkError, Reason } from '../../common/errors.js';
import type {
  CompletePairingRequest,
  ConnectRequest,
  DisconnectLinkRequest,
  GetLinkRequest,
  LinkService,
  RenameLinkRequest,
  RevokeLinkRequest,
  RotateLinkTokenRequest,
  StartPairingRequest,
  WatchLinksResponseSchema,
} from '../../gen/link/v1/link_service_pb.js';
import { CapabilitiesSchema, LinkSchema, LinkState, type HarnessUsageLimit, type Link } from '../../gen/link/v1/types_pb.js';

/** Reads the usage limits of links, by link id (limits/usage-limits.ts). */
export type UsageLimitsOfLinks = (linkIds: readonly string[]) => Promise<Map<string, HarnessUsageLimit[]>>;
import type { LinkRecord, Store } from '../store/store.js';
import { peerAddressKey } from '../context.js';
import { FailureLimiter } from '../rate-limit.js';
import { callerLink, callerUser } from '../auth.js';
import type { LinkSessionHub } from '../sessions/hub.js';
import type { PresenceEvent, PresenceRecord, Registry } from '../registry/registry.js';
import type { Notifications } from '../notifications.js';

/** How long a pairing code stays valid. */
export const PAIRING_CODE_TTL_MS = 10 * 60_000;

type WatchEvent = PresenceEvent | { type: 'stored'; linkId: string } | { type: 'queue' };

export class LinkServiceImpl implements ServiceImpl<typeof LinkService> {
  /** Wrong pairing codes per client address: 10 a minute. */
  private readonly pairingGuesses = new FailureLimiter(10, 60_000);

  constructor(
    private readonly store: Store,
    private readonly registry: Registry,
    private readonly sessions: Pick<LinkSessionHub, 'run'>,
    /** The gRPC address agents dial, for the pairing command ("http://host:9090"). */
    private advertisedGrpcUrl: string,
    /** Threads' changes (runs and messages queued or moving on): WatchLinks counts the queues again. */
    private readonly notifications?: Pick<Notifications, 'on'>,
    /** Each link's harnesses' usage limits (limits/usage-limits.ts); none without it. */
    private readonly usageLimits?: UsageLimitsOfLinks,
  ) {}

  /** `links` with their usage limits. */
  private async withLimits(links: Link[]): Promise<Link[]> {
    const limits = this.usageLimits ? await this.usageLimits(links.map((l) => l.id)) : new Map<string, HarnessUsageLimit[]>();
    for (const link of links) link.usageLimits = limits.get(link.id) ?? [];
    return links;
  }

  setAdvertisedGrpcUrl(url: string): void {
    this.advertisedGrpcUrl = url;
  }

  connect(requests: AsyncIterable<ConnectRequest>, ctx: HandlerContext) {
    return this.sessions.run(callerLink(ctx), requests, ctx);
  }

  async listLinks(_request: unknown, ctx: HandlerContext) {
    const user = callerUser(ctx);
    const [stored, live] = await Promise.all([this.store.listLinks(user.id), this.registry.list(user.id)]);
    const queued = await this.store.queuedMessages(user.id, stored.map((l) => l.id));
    return { links: await this.withLimits(sortLinks(joinLinks(stored, live, queued))) };
  }

  async getLink(request: GetLinkRequest, ctx: HandlerContext) {
    const user = callerUser(ctx);
    checkLength('link_id', request.linkId, 64, 1);
    const stored = await this.store.getLink(user.id, request.linkId);
    if (!stored) throw notFound(request.linkId);
    const [live, queued] = await Promise.all([this.registry.get(user.id, request.linkId), this.store.queuedMessages(user.id, [stored.id])]);
    const [link] = await this.withLimits([linkView(stored, live, queued.get(stored.id))]);
    return { link };
  }

  async *watchLinks(_request: unknown, ctx: HandlerContext): AsyncGenerator<MessageInitShape<typeof WatchLinksResponseSchema>> {
    const user = callerUser(ctx);
    const events = new Channel<WatchEvent>();
    const onAbort = () => events.close();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    // Stored changes (paired, renamed, revoked) come from any replica through the database.
    let shown = new Set<string>();
    const stopStored = this.store.onLinkControl(
      (message) => {
        if (message.userId === user.id && message.type !== 'shutdown') events.push({ type: 'stored', linkId: message.linkId });
      },
      // Changes may have been missed: every link shown or stored now is read again.
      () =>
        void this.store.listLinks(user.id).then(
          (links) => {
            for (const linkId of new Set([...shown, ...links.map((l) => l.id)])) events.push({ type: 'stored', linkId });
          },
          () => undefined,
        ),
    );
    // A queue count moves with the threads' runs and messages: counted again (one query) on a change.
    let queuePending = false;
    const stopQueues = this.notifications?.on('thread_changed', (change) => {
      if (change.userId !== user.id || queuePending) return;
      queuePending = true;
      events.push({ type: 'queue' });
    });
    let queued = new Map<string, number>();
    let watch: Awaited<ReturnType<Registry['watch']>> | undefined;
    try {
      // Inside the try: a registry that cannot be watched (etcd away) still lets go of the above.
      watch = await this.registry.watch(user.id, (event) => events.push(event));
      const stored = await this.store.listLinks(user.id);
      shown = new Set(stored.map((l) => l.id));
      // Presence as this watch has seen it: a stored change needs no registry call (which could
      // fail while etcd is away and end the stream).
      const live = new Map(watch.snapshot.map((r) => [r.linkId, r]));
      queued = await this.store.queuedMessages(user.id, [...shown]);
      yield { event: { case: 'snapshot', value: { links: await this.withLimits(sortLinks(joinLinks(stored, watch.snapshot, queued))) } } };
      for await (const event of events) {
        if (event.type === 'queue') {
          queuePending = false;
          const before = queued;
          queued = await this.store.queuedMessages(user.id, [...shown]);
          for (const linkId of shown) {
            if ((before.get(linkId) ?? 0) === (queued.get(linkId) ?? 0)) continue;
            const link = await this.store.getLink(user.id, linkId);
            if (link) yield { event: { case: 'changed', value: (await this.withLimits([linkView(link, live.get(linkId), queued.get(linkId))]))[0] } };
          }
          continue;
        }
        const linkId = event.type === 'put' ? event.record.linkId : event.linkId;
        if (event.type === 'put') live.set(linkId, event.record);
        else if (event.type === 'delete') live.delete(linkId);
        const link = await this.store.getLink(user.id, linkId);
        if (!link) {
          // Revoked (or never this user's): drop it from the view once.
          if (shown.delete(linkId)) yield { event: { case: 'removedLinkId', value: linkId } };
          continue;
        }
        shown.add(linkId);
        const [changed] = await this.withLimits([linkView(link, live.get(linkId), queued.get(linkId))]);
        yield { event: { case: 'changed', value: changed } };
      }
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      stopQueues?.();
      stopStored();
      watch?.stop();
      events.close();
    }
  }

  async startPairing(request: StartPairingRequest, ctx: HandlerContext) {
    const user = callerUser(ctx);
    checkLength('link_name', request.linkName, 128);
    const { code, expiresAt } = await this.store.createPairingCode(user.id, request.linkName.trim(), PAIRING_CODE_TTL_MS);
    return {
      code,
      expiresAt: timestampFromMs(expiresAt),
      serverAddress: this.advertisedGrpcUrl,
      command: `linkd login --server ${this.advertisedGrpcUrl} --code ${code}`,
    };
  }

  async completePairing(request: CompletePairingRequest, ctx: HandlerContext) {
    const source = ctx.values.get(peerAddressKey) || 'unknown';
    const wait = this.pairingGuesses.retryAfter(source);
    if (wait > 0) {
      throw linkError(Code.ResourceExhausted, Reason.RateLimited, `too many wrong pairing codes from this address; try again in ${Math.ceil(wait / 1000)} s`, {
        retry_after_ms: String(wait),
      });
    }
    checkLength('code', request.code, 32, 1);
    checkLength('machine_id', request.machineId, 64, 1);
    checkLength('hostname', request.hostname, 255);
    const result = await this.store.redeemPairingCode(request.code, { machineId: request.machineId, hostname: request.hostname });
    if (!result.ok) {
      this.pairingGuesses.fail(source);
      switch (result.reason) {
        case Reason.PairingCodeUsed:
          throw linkError(Code.FailedPrecondition, Reason.PairingCodeUsed, 'this pairing code was already used; start pairing again for a new one');
        case Reason.PairingCodeExpired:
          throw linkError(Code.FailedPrecondition, Reason.PairingCodeExpired, 'this pairing code expired; start pairing again for a new one');
        default:
          throw linkError(Code.NotFound, Reason.PairingCodeInvalid, 'no such pairing code; check it, or start pairing again');
      }
    }
    const { publicKey } = await this.store.dispatchKey();
    return {
      linkId: result.link.id,
      linkToken: result.token,
      linkName: result.link.name,
      userName: result.userName,
      dispatchPublicKey: publicKey,
    };
  }

  async renameLink(request: RenameLinkRequest, ctx: HandlerContext) {
    const user = callerUser(ctx);
    checkLength('link_id', request.linkId, 64, 1);
    const name = request.name.trim();
    checkLength('name', name, 128, 1);
    const renamed = await this.store.renameLink(user.id, request.linkId, name);
    if (!renamed) throw notFound(request.linkId);
    const [live, queued] = await Promise.all([this.registry.get(user.id, request.linkId), this.store.queuedMessages(user.id, [renamed.id])]);
    return { link: linkView(renamed, live, queued.get(renamed.id)) };
  }

  async disconnectLink(request: DisconnectLinkRequest, ctx: HandlerContext) {
    const user = callerUser(ctx);
    checkLength('link_id', request.linkId, 64, 1);
    checkLength('reason', request.reason, 1024);
    const link = await this.store.getLink(user.id, request.linkId);
    if (!link) throw notFound(request.linkId);
    const live = await this.registry.get(user.id, link.id);
    await this.store.publishLinkControl({
      type: 'shutdown',
      userId: user.id,
      linkId: link.id,
      reason: request.reason || `${user.name} disconnected this machine from Link`,
    });
    return { wasOnline: live !== undefined };
  }

  async rotateLinkToken(request: RotateLinkTokenRequest, ctx: HandlerContext) {
    const user = callerUser(ctx);
    checkLength('link_id', request.linkId, 64, 1);
    const link = await this.store.getLink(user.id, request.linkId);
    if (!link) throw notFound(request.linkId);
    if (!(await this.registry.get(user.id, link.id))) {
      throw linkError(Code.FailedPrecondition, Reason.LinkOffline, `${link.name} is offline: its token can be rotated only while it is connected`, {
        link_id: link.id,
      });
    }
    // The replica that holds the session makes the token and sends it; it never crosses Postgres in the clear.
    await this.store.publishLinkControl({ type: 'rotate', userId: user.id, linkId: link.id });
    return {};
  }

  async revokeLink(request: RevokeLinkRequest, ctx: HandlerContext) {
    const user = callerUser(ctx);
    checkLength('link_id', request.linkId, 64, 1);
    if (!(await this.store.revokeLink(user.id, request.linkId))) throw notFound(request.linkId);
    return {};
  }
}

/** The same answer for a link that does not exist and one that belongs to someone else. */
function notFound(linkId: string) {
  return linkError(Code.NotFound, Reason.LinkNotFound, `no link ${linkId}`, { link_id: linkId });
}

function joinLinks(stored: LinkRecord[], live: PresenceRecord[], queued: Map<string, number>): Link[] {
  const byId = new Map(live.map((record) => [record.linkId, record]));
  return stored.map((link) => linkView(link, byId.get(link.id), queued.get(link.id)));
}

function sortLinks(links: Link[]): Link[] {
  return links.sort(
    (a, b) => Number(b.state === LinkState.ONLINE) - Number(a.state === LinkState.ONLINE) || a.name.localeCompare(b.name),
  );
}

/**
 * The API's view of a link: stored facts, overlaid with the live session when there is one. Without
 * one it is ASLEEP when its machine last said it was going to sleep, else OFFLINE; `asleep_since` is
 * also shown while the session of a machine that is about to sleep still lives. `queued` is the
 * count of runs and messages waiting for it (`Store.queuedMessages`).
 */
export function linkView(link: LinkRecord, live: PresenceRecord | undefined, queued = 0): Link {
  const seen = link.lastSeen;
  const base = create(LinkSchema, {
    id: link.id,
    name: link.name,
    state: live ? LinkState.ONLINE : link.asleepSince !== undefined ? LinkState.ASLEEP : LinkState.OFFLINE,
    asleepSince: link.asleepSince !== undefined ? timestampFromMs(link.asleepSince) : undefined,
    queuedMessages: queued,
    createdAt: timestampFromMs(link.createdAt),
    hostname: seen?.hostname ?? '',
    os: seen?.os ?? '',
    arch: seen?.arch ?? '',
    agentVersion: seen?.agentVersion ?? '',
    machineId: seen?.machineId ?? '',
    lastSeenAt: seen ? timestampFromMs(seen.at) : undefined,
    capabilities: seen?.capabilitiesJson ? fromJson(CapabilitiesSchema, seen.capabilitiesJson as never) : undefined,
  });
  if (!live) return base;
  base.hostname = live.hostname;
  base.os = live.os;
  base.arch = live.arch;
  base.agentVersion = live.agentVersion;
  base.machineId = live.machineId;
  base.capabilities = live.capabilities;
  base.connectedAt = timestampFromMs(live.connectedAt);
  base.lastSeenAt = timestampFromMs(Date.now());
  base.replicaId = live.replicaId;
  base.sessionEpoch = live.epoch;
  base.runningRunIds = live.runningRunIds;
  base.dispatchKeyMissing = live.dispatchKeyMissing ?? false;
  return base;
}
