/**
 * UserService: the caller, the caller's own tokens (list, create, revoke), and for admins creating,
 * disabling and enabling users. A token is only ever shown to its owner, and its secret only once.
 */
import { durationMs, timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { checkLength, Code, linkError, Reason } from '../../common/errors.js';
import {
  UserTokenKind,
  type CreateTokenRequest,
  type CreateUserRequest,
  type DisableUserRequest,
  type EnableUserRequest,
  type RevokeTokenRequest,
  type UserService,
} from '../../gen/link/v1/user_service_pb.js';
import { callerUser } from '../auth.js';
import type { Store, UserRecord, UserTokenRecord } from '../store/store.js';

const USER_NAME = /^[A-Za-z0-9._-]{1,64}$/;
/** The shortest and longest lifetime CreateToken accepts. */
const MIN_TOKEN_TTL_MS = 1_000;
const MAX_TOKEN_TTL_MS = 366 * 24 * 3600_000;

export class UserServiceImpl implements ServiceImpl<typeof UserService> {
  constructor(private readonly store: Store) {}

  async getCurrentUser(_request: unknown, ctx: HandlerContext) {
    return { user: userView(callerUser(ctx)) };
  }

  async createUser(request: CreateUserRequest, ctx: HandlerContext) {
    requireAdmin(callerUser(ctx), 'create users');
    checkUserName(request.name);
    const created = await this.store.createUser(request.name, { admin: request.admin });
    if (!created) throw linkError(Code.AlreadyExists, Reason.UserExists, `a user named ${request.name} already exists`, { name: request.name });
    return { user: userView(created.user), token: created.token };
  }

  async listTokens(_request: unknown, ctx: HandlerContext) {
    const tokens = await this.store.listUserTokens(callerUser(ctx).id);
    return { tokens: tokens.map(tokenView) };
  }

  async createToken(request: CreateTokenRequest, ctx: HandlerContext) {
    const user = callerUser(ctx);
    checkText('label', request.label, 128);
    let ttlMs: number | undefined;
    if (request.ttl) {
      ttlMs = durationMs(request.ttl);
      if (!Number.isFinite(ttlMs) || ttlMs < MIN_TOKEN_TTL_MS || ttlMs > MAX_TOKEN_TTL_MS) {
        throw linkError(Code.InvalidArgument, Reason.InvalidField, 'ttl must be from 1 second to 366 days', { field: 'ttl' });
      }
    }
    const { token, record } = await this.store.createUserToken(user.id, { kind: 'api', label: request.label, ttlMs });
    return { token: tokenView(record), secret: token };
  }

  async revokeToken(request: RevokeTokenRequest, ctx: HandlerContext) {
    checkText('token_id', request.tokenId, 64, 1);
    if (!(await this.store.revokeUserToken(callerUser(ctx).id, request.tokenId))) {
      // The same answer for a token that does not exist and one that is someone else's.
      throw linkError(Code.NotFound, Reason.TokenNotFound, `you have no token ${request.tokenId}`, { token_id: request.tokenId });
    }
    return {};
  }

  async disableUser(request: DisableUserRequest, ctx: HandlerContext) {
    const caller = callerUser(ctx);
    requireAdmin(caller, 'disable users');
    checkUserName(request.name);
    if (request.name === caller.name) {
      throw linkError(Code.FailedPrecondition, Reason.CannotDisableSelf, 'you cannot disable yourself: ask another admin', { name: request.name });
    }
    return { user: userView(await this.setDisabled(request.name, true)) };
  }

  async enableUser(request: EnableUserRequest, ctx: HandlerContext) {
    requireAdmin(callerUser(ctx), 'enable users');
    checkUserName(request.name);
    return { user: userView(await this.setDisabled(request.name, false)) };
  }

  private async setDisabled(name: string, disabled: boolean): Promise<UserRecord> {
    const user = await this.store.setUserDisabled(name, disabled);
    if (!user) throw linkError(Code.NotFound, Reason.UserNotFound, `no user named ${name}`, { name });
    return user;
  }
}

function requireAdmin(caller: UserRecord, what: string): void {
  if (!caller.admin) throw linkError(Code.PermissionDenied, Reason.AdminRequired, `only an admin can ${what}`);
}

function checkUserName(name: string): void {
  if (!USER_NAME.test(name)) {
    throw linkError(Code.InvalidArgument, Reason.InvalidField, 'name must be 1 to 64 letters, digits, ".", "_" or "-"', { field: 'name' });
  }
}

/** A length check that also refuses NUL, which Postgres cannot store in text. */
function checkText(field: string, value: string, max: number, min = 0): void {
  checkLength(field, value, max, min);
  if (value.includes('\0')) throw linkError(Code.InvalidArgument, Reason.InvalidField, `${field} must not contain NUL`, { field });
}

export function userView(user: UserRecord) {
  return {
    id: user.id,
    name: user.name,
    admin: user.admin,
    local: user.local,
    createdAt: timestampFromMs(user.createdAt),
    disabled: user.disabled,
  };
}

/** What the owner sees of a token: never the secret or its hash. */
function tokenView(token: UserTokenRecord) {
  return {
    id: token.id,
    label: token.label,
    kind: token.kind === 'api' ? UserTokenKind.API : UserTokenKind.SESSION,
    createdAt: timestampFromMs(token.createdAt),
    expiresAt: timestampFromMs(token.expiresAt),
    lastUsedAt: token.lastUsedAt === undefined ? undefined : timestampFromMs(token.lastUsedAt),
  };
}
