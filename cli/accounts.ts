/**
 * linkctl's commands about people and their credentials:
 *
 *   linkctl users create NAME [--admin]      (admins) prints the new user's token once
 *   linkctl users disable NAME | enable NAME (admins) stop a user at once / let them in again
 *   linkctl tokens list [--json]             your tokens and browser sessions (never their secrets)
 *   linkctl tokens create [--label L] [--ttl 30d] [--json]   prints the new token once
 *   linkctl tokens revoke TOKEN_ID           that token stops working now
 */
import { durationFromMs } from '@bufbuild/protobuf/wkt';
import { createClient, type Transport } from '@connectrpc/connect';
import type { Command } from 'commander';
import { duration } from '../common/cli.js';
import { UserSchema, UserService, UserTokenKind, UserTokenSchema, type User, type UserToken } from '../gen/link/v1/user_service_pb.js';
import { jsonOf, printMessage, printMessages, printValue, table, when } from './output.js';

/** Adds `users` and `tokens` to `program`; `transport` is called per command (it reads flags and config). */
export function addAccountCommands(program: Command, transport: () => Promise<Transport>): void {
  const usersClient = async () => createClient(UserService, await transport());

  const users = program.command('users').description('people using this control plane (admins)');
  users
    .command('create <name>')
    .description('create a user (admins only) and print its API token, shown only once')
    .option('--admin', 'the user may create other users')
    .option('--json', 'print JSON: {"user": …, "token": …}')
    .action(async (name: string, opts) => {
      const { user, token } = await (await usersClient()).createUser({ name, admin: Boolean(opts.admin) });
      if (opts.json) return printValue({ user: user && jsonOf(UserSchema, user), token });
      process.stdout.write(`${token}\n`);
      process.stderr.write(`created ${user?.admin ? 'admin ' : ''}user ${user?.name} (${user?.id}); the token above is shown only once\n`);
    });
  users
    .command('disable <name>')
    .description("stop a user now (admins only): their tokens and browser sessions are refused, their streams and machines' sessions end")
    .option('--json', 'print the user as JSON')
    .action(async (name: string, opts) => {
      const { user } = await (await usersClient()).disableUser({ name });
      if (opts.json && user) return printMessage(UserSchema, user);
      process.stdout.write(`disabled ${describeUser(user)}\n`);
    });
  users
    .command('enable <name>')
    .description('let a disabled user in again (admins only); their unexpired tokens work again')
    .option('--json', 'print the user as JSON')
    .action(async (name: string, opts) => {
      const { user } = await (await usersClient()).enableUser({ name });
      if (opts.json && user) return printMessage(UserSchema, user);
      process.stdout.write(`enabled ${describeUser(user)}\n`);
    });

  const tokens = program.command('tokens').description('your user tokens and browser sessions');
  tokens
    .command('list')
    .description('the tokens of yours that still work (never their secrets)')
    .option('--json', 'print JSON')
    .action(async (opts) => {
      const { tokens: list } = await (await usersClient()).listTokens({});
      if (opts.json) return printMessages(UserTokenSchema, list);
      process.stdout.write(table(['ID', 'KIND', 'LABEL', 'CREATED', 'EXPIRES', 'LAST USED'], list.map(tokenRow), 'no tokens'));
    });
  tokens
    .command('create')
    .description('make a new API token and print it, shown only once')
    .option('--label <text>', 'a name to tell it by (at most 128 bytes)', '')
    .option('--ttl <duration>', "how long it works, e.g. 30d, 12h (default: the server's, 90 days unless configured)", duration(1_000, 366 * 86_400_000))
    .option('--json', 'print JSON: {"token": …, "secret": …}')
    .action(async (opts: { label: string; ttl?: number; json?: boolean }) => {
      const { token, secret } = await (await usersClient()).createToken({
        label: opts.label,
        ttl: opts.ttl === undefined ? undefined : durationFromMs(opts.ttl),
      });
      if (opts.json) {
        return printValue({ token: token && jsonOf(UserTokenSchema, token), secret });
      }
      process.stdout.write(`${secret}\n`);
      process.stderr.write(`created token ${token?.id}, expires ${when(token?.expiresAt)}; the token above is shown only once\n`);
    });
  tokens
    .command('revoke <token-id>')
    .description('make one of your tokens (or browser sessions) stop working now')
    .option('--json', 'print JSON: {"tokenId", "revoked"}')
    .action(async (tokenId: string, opts) => {
      await (await usersClient()).revokeToken({ tokenId });
      if (opts.json) return printValue({ tokenId, revoked: true });
      process.stdout.write(`revoked ${tokenId}\n`);
    });
}

function describeUser(user: User | undefined): string {
  return user ? `${user.name} (${user.id})` : '';
}

function tokenRow(token: UserToken): string[] {
  const kind = token.kind === UserTokenKind.API ? 'api' : token.kind === UserTokenKind.SESSION ? 'session' : '?';
  return [token.id, kind, token.label || '-', when(token.createdAt), when(token.expiresAt), token.lastUsedAt ? when(token.lastUsedAt) : 'never'];
}

