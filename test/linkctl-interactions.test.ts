/**
 * linkctl's side of interactive runs, as a user sees it in a terminal: the request of a run that
 * asks, answered inline (`y`, through a real pseudo-terminal) or with `linkctl runs answer`; the
 * winning answer when another came first; `runs pending --json`; `--permission-mode auto`'s
 * confirmation. linkctl (the real process from bin/) talks gRPC over HTTP/2 on 127.0.0.1 to a
 * ThreadService that plays one run asking one permission: a unit test of the CLI, with the control
 * plane's side covered by its own suites.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Http2Server, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { create, toJsonString } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { Code, type ConnectRouter } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { linkError } from '../common/errors.js';
import { Reason } from '../common/reasons.js';
import {
  InteractionAnswerSchema,
  InteractionDecision,
  InteractionKind,
  InteractionScope,
  InteractionState,
  PermissionMode,
  RunStatus,
  type InteractionAnswer,
} from '../gen/link/v1/run_pb.js';
import { InteractionRecordSchema, ThreadService, type SendMessageRequest } from '../gen/link/v1/thread_service_pb.js';
import { join } from 'node:path';
import { repoRoot, TestProcess } from './helpers/processes.js';
import { npmStartDirs, runCli, userEnv } from './helpers/npm-start.js';

/** One run (`run_1`) that starts, asks to run `npm test` (`int_1`), and ends once answered. */
class AskingRun {
  sent: SendMessageRequest[] = [];
  answers: InteractionAnswer[] = [];
  private wake: () => void = () => undefined;
  private answered = new Promise<void>((r) => (this.wake = r));

  record() {
    return create(InteractionRecordSchema, {
      runId: 'run_1',
      threadId: 'thr_1',
      threadTitle: 'tests',
      linkId: 'lnk_1',
      interaction: { id: 'int_1', kind: InteractionKind.PERMISSION, tool: 'Bash', title: 'Run `npm test`', command: 'npm test', cwd: '/home/ada/app' },
      state: this.answers.length ? InteractionState.ANSWERED : InteractionState.PENDING,
      answer: this.answers[0],
      seq: 2n,
      askedAt: timestampNow(),
    });
  }

  routes = (router: ConnectRouter) =>
    router.service(ThreadService, {
      sendMessage: async (request) => {
        this.sent.push(request);
        if (request.permissionMode === PermissionMode.AUTO && !request.confirmAuto) {
          throw linkError(Code.InvalidArgument, Reason.AutoNeedsConfirmation, 'auto outside a bwrap sandbox needs confirm_auto');
        }
        return { runId: 'run_1' };
      },
      listInteractions: async () => ({ interactions: this.answers.length ? [] : [this.record()] }),
      answerInteraction: async (request) => {
        if (this.answers.length) {
          throw linkError(Code.FailedPrecondition, Reason.AlreadyAnswered, 'already answered', {
            'interaction-answer': toJsonString(InteractionAnswerSchema, this.answers[0]),
          });
        }
        this.answers.push(
          create(InteractionAnswerSchema, { decision: request.decision, scope: request.scope, message: request.message, answeredBy: 'alice', answeredAt: timestampNow() }),
        );
        this.wake();
        return { interaction: this.record() };
      },
      watchRun: async function* (this: AskingRun, request: { batched: boolean }) {
        // As the server answers: several events per response when asked for `batched`.
        const out = <T>(event: T) => (request.batched ? { events: [event] } : { event });
        yield out({ seq: 1n, event: { case: 'started' as const, value: { harness: 'claude-code' } } });
        yield out({ seq: 2n, event: { case: 'interaction' as const, value: this.record().interaction! } });
        await this.answered;
        const resolved = { interactionId: 'int_1', state: InteractionState.ANSWERED, answer: this.answers[0] };
        yield out({ seq: 3n, event: { case: 'interactionResolved' as const, value: resolved } });
        yield out({ seq: 4n, event: { case: 'done' as const, value: { status: RunStatus.COMPLETED, exitCode: 0 } } });
      }.bind(this),
    });
}

describe('linkctl and a run that asks', function () {
  this.timeout(120_000);
  let server: Http2Server;
  let run: AskingRun;
  let env: NodeJS.ProcessEnv;
  const started: TestProcess[] = [];
  const sessions = new Set<ServerHttp2Session>();

  beforeEach(async () => {
    run = new AskingRun();
    server = createServer(connectNodeAdapter({ routes: run.routes }));
    server.on('session', (session) => {
      sessions.add(session);
      session.once('close', () => sessions.delete(session));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const dirs = await npmStartDirs();
    env = userEnv(dirs, { LINKCTL_SERVER: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, LINKCTL_TOKEN: 'lu_test' });
  });

  afterEach(async () => {
    for (const child of started.splice(0)) await child.stop();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const session of sessions) session.destroy();
    await closed;
  });

  it('without a terminal, send prints the request and the command; runs answer answers it; a second answer gets the winner', async () => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'linkctl.js'), 'send', 'thr_1', 'run the tests', '--permission-mode', 'ask'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const send = new TestProcess('linkctl send', child);
    started.push(send);
    await send.waitForOutput(/answer with: linkctl runs answer run_1 int_1 --allow \| --deny \[--message TEXT\] \| --always/, 60_000);
    assert.match(send.output, /#2 asks to Run `npm test` \(Bash\)\n {3}\s*\$ npm test\n {3}\s*in \/home\/ada\/app/);
    assert.equal(run.sent[0].permissionMode, PermissionMode.ASK);

    const answer = await runCli('linkctl', ['runs', 'answer', 'run_1', 'int_1', '--always'], env);
    assert.equal(answer.code, 0, answer.stderr);
    assert.equal(answer.stdout, 'int_1: always allowed in this thread by alice\n');
    assert.deepEqual([run.answers[0].decision, run.answers[0].scope], [InteractionDecision.ALLOW, InteractionScope.THREAD]);
    const { code } = await send.waitForExit(30_000);
    assert.equal(code, 0);
    assert.match(send.output, /#3 always allowed in this thread by alice\n#4 done: completed, exit 0/);

    const again = await runCli('linkctl', ['runs', 'answer', 'run_1', 'int_1', '--deny', '--message', 'no'], env);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, 'linkctl: int_1 was already answered: always allowed in this thread by alice (ALREADY_ANSWERED)\n');
  });

  it('on a terminal, send asks inline and y allows it once', async function () {
    // A real pseudo-terminal: util-linux `script` runs linkctl on one and relays our keystrokes.
    const command = [process.execPath, join(repoRoot, 'bin', 'linkctl.js'), 'send', 'thr_1', 'run the tests'].map((a) => `'${a}'`).join(' ');
    const child = spawn('script', ['-qfec', command, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const send = new TestProcess('linkctl send (terminal)', child);
    started.push(send);
    await send.waitForOutput(/Allow\? y = yes, n = no \(n WHY tells the agent why\), a = always in this thread: /, 60_000);
    child.stdin!.write('y\r');
    await send.waitForOutput(/allowed by alice/, 30_000);
    assert.deepEqual([run.answers[0].decision, run.answers[0].scope], [InteractionDecision.ALLOW, InteractionScope.ONCE]);
    await send.waitForOutput(/done: completed, exit 0/, 30_000);
    child.stdin!.end();
    assert.equal((await send.waitForExit(30_000)).code, 0);
  });

  it('runs pending --json lists what waits, every field present', async () => {
    const { code, stdout } = await runCli('linkctl', ['runs', 'pending', '--json'], env);
    assert.equal(code, 0);
    const [pending] = JSON.parse(stdout);
    assert.equal(pending.runId, 'run_1');
    assert.equal(pending.interaction.id, 'int_1');
    assert.equal(pending.state, 'INTERACTION_STATE_PENDING');
    assert.equal(pending.delivered, false, 'false is present');
    assert.equal(pending.interaction.diff, '', 'empty strings are present');
    const table = (await runCli('linkctl', ['runs', 'pending'], env)).stdout;
    assert.match(table, /^RUN +INTERACTION +THREAD +ASKED +WHAT\nrun_1 +int_1 +tests +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +Run `npm test` \(Bash\)\n/);
  });

  it('--permission-mode auto outside bwrap needs --yes-auto', async () => {
    const refused = await runCli('linkctl', ['send', 'thr_1', 'go', '--permission-mode', 'auto', '--no-follow'], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /--permission-mode auto outside a bwrap sandbox needs --yes-auto/);
    const confirmed = await runCli('linkctl', ['send', 'thr_1', 'go', '--permission-mode', 'auto', '--yes-auto', '--no-follow'], env);
    assert.equal(confirmed.code, 0, confirmed.stderr);
    assert.deepEqual(run.sent.map((s) => s.confirmAuto), [false, true]);
  });
});
