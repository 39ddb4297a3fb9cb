// `npm start`: the embedded default on this machine. Installs what is missing, builds the web UI,
// starts link-server on 127.0.0.1 and one local linkd paired to the local user, and prints the login
// URL (the page with this run's one login secret, which logs the browser in as the local user).
// Data lives in ./.data (LINK_DATA_DIR to change); ports from LINK_SERVER_HTTP_PORT / _GRPC_PORT.
// LINK_WORKSPACES (colon-separated, e.g. ~/code) are the folders whose git repositories the local
// linkd offers; none by default.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureNodeModules } from './ensure-deps.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
ensureNodeModules(root);

await import('../web/build.js');
const { register } = await import('tsx/esm/api');
register();
const { startLocalStack } = await import('./local-stack.ts');

const stack = await startLocalStack({
  dataDir: resolve(process.env.LINK_DATA_DIR ?? join(root, '.data')),
  grpcPort: Number(process.env.LINK_SERVER_GRPC_PORT ?? 9090),
  httpPort: Number(process.env.LINK_SERVER_HTTP_PORT ?? 8080),
  pretty: process.stderr.isTTY,
});
process.stdout.write(
  `\n  Link is running. Open this URL to log in (it works until link-server restarts; also in ${stack.loginUrlFile}):\n\n` +
    `    ${stack.loginUrl ?? stack.url}\n\n` +
    `  gRPC API: ${stack.grpcAddress}  (local user token: ${stack.userTokenFile})\n` +
    (process.env.LINK_WORKSPACES
      ? `  Workspaces: ${process.env.LINK_WORKSPACES}\n`
      : '  No workspaces: to work on repositories on this machine, start with LINK_WORKSPACES=~/code npm start\n') +
    '  Ctrl-C stops it.\n\n',
);

let stopping = false;
const stop = async () => {
  if (stopping) process.exit(130);
  stopping = true;
  await stack.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
stack.server.once('exit', (code) => {
  if (!stopping) {
    process.stderr.write(`link-server exited (${code}); stopping.\n`);
    void stack.stop().then(() => process.exit(1));
  }
});
