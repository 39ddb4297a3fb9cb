// `npm start`: the embedded default on this machine. Installs what is missing, builds the web UI,
// starts link-server on 127.0.0.1 and one local linkd paired to the local user, and prints the login
// URL (the page with this run's one login secret, which logs the browser in as the local user).
// Data lives in ./.data (LINK_DATA_DIR to change); ports from LINK_SERVER_HTTP_PORT / _GRPC_PORT.
// LINK_WORKSPACES (colon-separated, e.g. ~/code) are the folders whose git repositories the local
// linkd offers; none by default. It prints the CLI commands that find this stack by themselves
// (.data/local-stack.json). Ctrl-C stops in order: linkd drains, then the server and its database;
// a second Ctrl-C stops the running runs, a third kills both.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureNodeModules } from './ensure-deps.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
ensureNodeModules(root);

await import('../web/build.js');
const { register } = await import('tsx/esm/api');
register();
const { startLocalStack } = await import('./local-stack.ts');

// A Ctrl-C while it starts stops what was started (its processes have process groups of their own).
const starting = new AbortController();
const abortStart = () => starting.abort();
process.once('SIGINT', abortStart);
process.once('SIGTERM', abortStart);
const stack = await startLocalStack({
  dataDir: resolve(process.env.LINK_DATA_DIR ?? join(root, '.data')),
  grpcPort: Number(process.env.LINK_SERVER_GRPC_PORT ?? 9090),
  httpPort: Number(process.env.LINK_SERVER_HTTP_PORT ?? 8080),
  pretty: process.stderr.isTTY,
  signal: starting.signal,
}).catch((error) => {
  if (starting.signal.aborted) process.exit(130);
  throw error;
});
process.off('SIGINT', abortStart);
process.off('SIGTERM', abortStart);
const here = process.cwd() === root;
const run = (cli) => (here ? `npx ${cli}` : `node ${join(root, 'bin', `${cli}.js`)}`);
process.stdout.write(
  `\n  Link is running. Open this URL to log in (it works until link-server restarts; also in ${stack.loginUrlFile}):\n\n` +
    `    ${stack.loginUrl ?? stack.url}\n\n` +
    `  From another terminal on this machine (they find this stack by themselves${process.env.LINK_DATA_DIR ? ', with the same LINK_DATA_DIR' : ''}):\n\n` +
    `    ${run('linkctl')} links list\n` +
    `    ${run('linkctl')} threads create\n` +
    `    ${run('linkd')} status\n` +
    `    ${run('linkd')} doctor\n\n` +
    `  gRPC API: ${stack.grpcAddress}  (local user token: ${stack.userTokenFile})\n` +
    (process.env.LINK_WORKSPACES
      ? `  Workspaces: ${process.env.LINK_WORKSPACES}\n`
      : '  No workspaces: to work on repositories on this machine, start with LINK_WORKSPACES=~/code npm start\n') +
    '  Ctrl-C stops it (running runs finish first; Ctrl-C again stops them).\n\n',
);

// One step of the staged stop per signal: linkd drains, then the server drains and stops its
// database; a second signal cancels the running runs; a third kills both.
let signals = 0;
const stop = (signal) => {
  signals++;
  if (signals === 1) {
    process.stderr.write(`\n  Stopping (${signal}): linkd lets its running runs finish, then link-server and its database stop. Ctrl-C again stops the runs.\n`);
    void stack.shutdown().then(() => process.exit(0));
  } else if (signals === 2) {
    process.stderr.write('\n  Stopping the running runs; Ctrl-C again kills linkd and link-server at once.\n');
    void stack.shutdown();
  } else {
    void stack.shutdown();
    process.exit(130);
  }
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
process.on('SIGHUP', stop);
// linkd and link-server have process groups of their own: never leave them behind.
process.on('exit', () => {
  for (const child of [stack.agent, stack.server]) if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
});
stack.server.once('exit', (code) => {
  if (signals === 0) {
    process.stderr.write(`link-server exited (${code}); stopping.\n`);
    void stack.stop().then(() => process.exit(1));
  }
});
