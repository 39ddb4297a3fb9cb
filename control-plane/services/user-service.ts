/**
 * UserService: the caller, and creating users (admins only).
 */
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { Code, linkError, Reason } from '../../common/errors.js';
import type { CreateUserRequest, UserService } from '../../gen/link/v1/user_service_pb.js';
import { callerUser } from '../auth.js';
import type { Store, UserRecord } from '../store/store.js';

const USER_NAME = /^[A-Za-z0-9._-]{1,64}$/;

export class UserServiceImpl implements ServiceImpl<typeof UserService> {
  constructor(private readonly store: Store) {}

  async getCurrentUser(_request: unknown, ctx: HandlerContext) {
    return { user: userView(callerUser(ctx)) };
  }

  async createUser(request: CreateUserRequest, ctx: HandlerContext) {
    const caller = callerUser(ctx);
    if (!caller.admin) throw linkError(Code.PermissionDenied, Reason.AdminRequired, 'only an admin can create users');
    if (!USER_NAME.test(request.name)) {
      throw linkError(Code.InvalidArgument, Reason.InvalidField, 'name must be 1 to 64 letters, digits, ".", "_" or "-"', { field: 'name' });
    }
    const created = await this.store.createUser(request.name, { admin: request.admin });
    if (!created) throw linkError(Code.AlreadyExists, Reason.UserExists, `a user named ${request.name} already exists`, { name: request.name });
    return { user: userView(created.user), token: created.token };
  }
}

export function userView(user: UserRecord) {
  return { id: user.id, name: user.name, admin: user.admin, local: user.local, createdAt: timestampFromMs(user.createdAt) };
}
