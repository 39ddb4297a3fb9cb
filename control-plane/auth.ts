/**
 * Authentication, applied once to a ServiceImpl so that both transports share it: every method is
 * wrapped to resolve the caller before the handler runs, and the handler reads the caller from
 * `ctx.values` (`callerUser(ctx)` / `callerLink(ctx)`).
 *
 * - Link methods (the agent's session) take a link token: `authorization: Bearer ll_…`.
 * - User methods take a user token (`authorization: Bearer lu_…`) or the browser's session cookie
 *   (`link_session`, set by POST /auth/login).
 * - In the embedded default (`localLogin`), a call without credentials that comes in on the HTTP
 *   port from a loopback address, naming localhost as its Host, acts as the local user: the page
 *   opens logged in. The Host check stops DNS-rebinding pages from riding on it.
 */
import { createContextKey, type HandlerContext } from '@connectrpc/connect';
import type { DescService } from '@bufbuild/protobuf';
import { Code, linkError, Reason } from '../common/errors.js';
import type { LinkRecord, Store, UserRecord, UserTokenCheck } from './store/store.js';
import { peerAddressKey, transportKey } from './context.js';
import type { AnyServiceImpl } from './grpc-adapter.js';

const userKey = createContextKey<UserRecord | undefined>(undefined, { description: 'caller user' });
const linkKey = createContextKey<LinkRecord | undefined>(undefined, { description: 'caller link' });

/** The authenticated user of a user method. */
export function callerUser(ctx: HandlerContext): UserRecord {
  const user = ctx.values.get(userKey);
  if (!user) throw new Error('callerUser() in a method that is not authenticated as a user');
  return user;
}

/** The authenticated link of a link method. */
export function callerLink(ctx: HandlerContext): LinkRecord {
  const link = ctx.values.get(linkKey);
  if (!link) throw new Error('callerLink() in a method that is not authenticated as a link');
  return link;
}

export type Credential = 'user' | 'link' | 'none';

export class Authenticator {
  constructor(
    private readonly store: Store,
    private readonly options: { localLogin: boolean },
  ) {}

  /**
   * Wraps each method of `impl` so that it runs only for an authenticated caller. `credentials`
   * names the methods that take something other than a user token.
   */
  protect<T extends object>(service: DescService, impl: T, credentials: Record<string, Credential> = {}): T {
    const wrapped: AnyServiceImpl = {};
    const source = impl as unknown as AnyServiceImpl;
    for (const method of service.methods) {
      const fn = source[method.localName];
      if (!fn) continue;
      const credential = credentials[method.localName] ?? 'user';
      const authenticate = (ctx: HandlerContext) => this.authenticate(ctx, credential);
      if (method.methodKind === 'unary' || method.methodKind === 'client_streaming') {
        wrapped[method.localName] = async (request, ctx) => {
          await authenticate(ctx);
          return fn.call(impl, request, ctx);
        };
      } else {
        const store = this.store;
        wrapped[method.localName] = async function* (request, ctx) {
          await authenticate(ctx);
          const user = ctx.values.get(userKey);
          if (!user) return yield* fn.call(impl, request, ctx) as AsyncIterable<unknown>;
          yield* untilDisabled(store, user, ctx, (signalled) => fn.call(impl, request, signalled) as AsyncIterable<unknown>);
        };
      }
    }
    return wrapped as unknown as T;
  }

  private async authenticate(ctx: HandlerContext, credential: Credential): Promise<void> {
    if (credential === 'none') return;
    const token = bearer(ctx.requestHeader.get('authorization'));
    if (credential === 'link') {
      const link = token ? await this.store.linkByToken(token) : undefined;
      if (!link) throw unauthenticated(token ? 'the link token is not valid' : 'missing link token');
      ctx.values.set(linkKey, link);
      return;
    }
    if (token) {
      ctx.values.set(userKey, acceptedUser(await this.store.checkUserToken(token), 'the user token is not valid'));
      return;
    }
    const session = sessionCookie(ctx.requestHeader.get('cookie'));
    if (session) {
      ctx.values.set(userKey, acceptedUser(await this.store.checkUserToken(session), 'the browser session expired: log in again'));
      return;
    }
    if (this.options.localLogin && isLocalBrowserCall(ctx)) {
      ctx.values.set(userKey, await this.store.localUser());
      return;
    }
    throw unauthenticated('missing user token: send "authorization: Bearer <token>"');
  }
}

function unauthenticated(message: string) {
  return linkError(Code.Unauthenticated, Reason.Unauthenticated, message);
}

/** The user of an accepted token; otherwise UNAUTHENTICATED with the reason it was refused. */
function acceptedUser(check: UserTokenCheck, unknownMessage: string): UserRecord {
  if (check.ok) return check.user;
  if (check.reason === 'USER_DISABLED') throw userDisabled(check.userName ?? '');
  if (check.reason === 'EXPIRED') {
    throw linkError(Code.Unauthenticated, Reason.TokenExpired, 'this token expired: log in again, or make a new one with `linkctl tokens create`');
  }
  throw unauthenticated(unknownMessage);
}

function userDisabled(name: string) {
  return linkError(Code.Unauthenticated, Reason.UserDisabled, `the user ${name} was disabled by an admin`, { user: name });
}

/**
 * Runs a user's stream until it ends or an admin disables the user (a `user_disabled` message from
 * any replica): then the handler's signal fires, and the stream ends UNAUTHENTICATED USER_DISABLED.
 */
async function* untilDisabled(
  store: Store,
  user: UserRecord,
  ctx: HandlerContext,
  handler: (ctx: HandlerContext) => AsyncIterable<unknown>,
): AsyncGenerator<unknown> {
  const disabled = new AbortController();
  const stop = store.onLinkControl((message) => {
    if (message.type === 'user_disabled' && message.userId === user.id) disabled.abort();
  });
  try {
    yield* handler({ ...ctx, signal: AbortSignal.any([ctx.signal, disabled.signal]) });
  } catch (error) {
    if (!disabled.signal.aborted) throw error;
  } finally {
    stop();
  }
  if (disabled.signal.aborted) throw userDisabled(user.name);
}

/** The name of the browser session cookie. */
export const SESSION_COOKIE = 'link_session';

/** The session token in a Cookie header, if any. */
export function sessionCookie(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === SESSION_COOKIE) return decodeURIComponent(value.join('='));
  }
  return undefined;
}

function bearer(header: string | null): string | undefined {
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header.trim()) : null;
  return match?.[1];
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;
const LOCAL_HOST = /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/i;

function isLocalBrowserCall(ctx: HandlerContext): boolean {
  if (ctx.values.get(transportKey) !== 'http') return false;
  const peer = ctx.values.get(peerAddressKey);
  const host = ctx.requestHeader.get('host') ?? '';
  return LOOPBACK.test(peer) && LOCAL_HOST.test(host);
}
