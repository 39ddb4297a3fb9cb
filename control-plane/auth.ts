/**
 * Authentication, applied once to a ServiceImpl so that both transports share it: every method is
 * wrapped to resolve the caller before the handler runs, and the handler reads the caller from
 * `ctx.values` (`callerUser(ctx)` / `callerLink(ctx)`).
 *
 * - Link methods (the agent's session) take a link token: `authorization: Bearer ll_…`.
 * - User methods take a user token (`authorization: Bearer lu_…`) or the browser's session cookie
 *   (`link_session`, set by POST /auth/login). A call without either is UNAUTHENTICATED, from
 *   wherever it comes: loopback is not a credential.
 * - A cookie-authenticated call must come from the page's own origin (`Origin` naming the request's
 *   own host, `Sec-Fetch-Site` same-origin or absent); others are PERMISSION_DENIED CROSS_ORIGIN.
 *   Bearer calls are not checked: a page cannot send another site's token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createContextKey, type HandlerContext } from '@connectrpc/connect';
import type { DescService } from '@bufbuild/protobuf';
import { Code, linkError, Reason } from '../common/errors.js';
import type { LinkRecord, Store, UserRecord, UserTokenCheck } from './store/store.js';
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
  constructor(private readonly store: Store) {}

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
    if (session !== undefined) {
      const refusal = crossOriginRefusal(ctx.requestHeader.get('origin'), ctx.requestHeader.get('sec-fetch-site'), ctx.requestHeader.get('host'));
      if (refusal) throw linkError(Code.PermissionDenied, Reason.CrossOrigin, refusal);
      if (!session) throw unauthenticated('the browser session is not valid or has expired: log in again');
      ctx.values.set(userKey, acceptedUser(await this.store.checkUserToken(session), 'the browser session is not valid or has expired: log in again'));
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
  if (check.reason === Reason.UserDisabled) throw userDisabled(check.userName ?? '');
  if (check.reason === Reason.TokenExpired) {
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
  const stop = store.onLinkControl(
    (message) => {
      if (message.type === 'user_disabled' && message.userId === user.id) disabled.abort();
    },
    // A user_disabled message may have been missed: the user is read again.
    () =>
      void store.getUser(user.id).then(
        (current) => current?.disabled && disabled.abort(),
        () => undefined,
      ),
  );
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

/**
 * The session token in a Cookie header: undefined when there is no `link_session` cookie, the
 * value (percent-decoded when it decodes) when there is. Never throws: a malformed value is
 * returned as it came and then matches no session.
 */
export function sessionCookie(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name !== SESSION_COOKIE) continue;
    const raw = value.join('=');
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  }
  return undefined;
}

/**
 * Why a request that rides on the browser's session cookie does not come from the page's own
 * origin, or undefined when it does. Browsers send `Sec-Fetch-Site` (same-origin for the page's own
 * calls) and `Origin` on every POST; a client that sends neither (curl with a cookie it was given)
 * is let through, since it holds the cookie anyway. The Origin's host and port must be the Host the
 * request was sent to; its scheme is not compared, since TLS may end at a proxy in front. Never
 * throws: an Origin that is not a URL (`null`, from sandboxed frames and file pages) is another origin.
 */
export function crossOriginRefusal(origin: string | null | undefined, fetchSite: string | null | undefined, host: string | null | undefined): string | undefined {
  if (fetchSite !== null && fetchSite !== undefined && fetchSite !== 'same-origin') {
    const site = ['same-site', 'cross-site', 'none'].includes(fetchSite) ? fetchSite : 'foreign';
    return `a ${site} request (Sec-Fetch-Site) cannot use the Link page's session: call from the page itself, or send a bearer token`;
  }
  if (origin === null || origin === undefined) return undefined;
  const refusal = 'the request comes from another origin than the Link page: call from the page itself, or send a bearer token';
  let from: URL;
  let own: URL;
  try {
    from = new URL(origin);
    own = new URL(`${from.protocol}//${host ?? ''}`);
  } catch {
    return refusal;
  }
  if ((from.protocol !== 'http:' && from.protocol !== 'https:') || !host || from.origin !== own.origin) return refusal;
  return undefined;
}

/** Whether `host` (a --host value) only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare) || /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/** Compares a login secret in constant time (over digests, so lengths do not show either). */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function bearer(header: string | null): string | undefined {
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header.trim()) : null;
  return match?.[1];
}
