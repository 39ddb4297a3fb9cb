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
  ConnectRequest,
  GetLinkRequest,
  LinkService,
  WatchLinksResponseSchema,
} from '../../gen/link/v1/link_service_pb.js';
import { CapabilitiesSchema, LinkSchema, LinkState, type Link } from '../../gen/link/v1/types_pb.js';
import type { AccountStore, LinkRecord } from '../accounts/account-store.js';
import { callerLink, callerUser } from '../auth.js';
import type { LinkSessionHub } from '../link-session.js';
import type { PresenceEvent, PresenceRecord, Registry } from '../registry/registry.js';

export class LinkServiceImpl implements ServiceImpl<typeof LinkService> {
  constructor(
    private readonly accounts: AccountStore,
    private readonly registry: Registry,
    private readonly sessions: LinkSessionHub,
  ) {}

  connect(requests: AsyncIterable<ConnectRequest>, ctx: HandlerContext) {
    return this.sessions.run(callerLink(ctx), requests, ctx);
  }

  async listLinks(_request: unknown, ctx: HandlerContext) {
    const user = callerUser(ctx);
    const [stored, live] = await Promise.all([this.accounts.listLinks(user.id), this.registry.list(user.id)]);
    return { links: sortLinks(joinLinks(stored, live)) };
  }

  async getLink(request: GetLinkRequest, ctx: HandlerContext) {
    const user = callerUser(ctx);
    checkLength('link_id', request.linkId, 64, 1);
    const stored = await this.accounts.getLink(user.id, request.linkId);
    if (!stored) {
      throw linkError(Code.NotFound, Reason.LinkNotFound, `no link ${request.linkId}`, { link_id: request.linkId });
    }
    return { link: linkView(stored, await this.registry.get(user.id, request.linkId)) };
  }

  async *watchLinks(_request: unknown, ctx: HandlerContext): AsyncGenerator<MessageInitShape<typeof WatchLinksResponseSchema>> {
    const user = callerUser(ctx);
    const events = new Channel<PresenceEvent>();
    const onAbort = () => events.close();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    const watch = await this.registry.watch(user.id, (event) => events.push(event));
    try {
      const stored = await this.accounts.listLinks(user.id);
      yield { event: { case: 'snapshot', value: { links: sortLinks(joinLinks(stored, watch.snapshot)) } } };
      for await (const event of events) {
        const linkId = event.type === 'put' ? event.record.linkId : event.linkId;
        const link = await this.accounts.getLink(user.id, linkId);
        if (!link) continue;
        const live = event.type === 'put' ? event.record : undefined;
        yield { event: { case: 'changed', value: linkView(link, live) } };
      }
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      watch.stop();
    }
  }
}

function joinLinks(stored: LinkRecord[], live: PresenceRecord[]): Link[] {
  const byId = new Map(live.map((record) => [record.linkId, record]));
  return stored.map((link) => linkView(link, byId.get(link.id)));
}

function sortLinks(links: Link[]): Link[] {
  return links.sort(
    (a, b) => Number(b.state === LinkState.ONLINE) - Number(a.state === LinkState.ONLINE) || a.name.localeCompare(b.name),
  );
}

/** The API's view of a link: stored facts, overlaid with the live session when there is one. */
export function linkView(link: LinkRecord, live: PresenceRecord | undefined): Link {
  const seen = link.lastSeen;
  const base = create(LinkSchema, {
    id: link.id,
    name: link.name,
    state: live ? LinkState.ONLINE : LinkState.OFFLINE,
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
  return base;
}
