/**
 * linkctl's inline answers to a run that asks (cli/interactions.ts), fed from a fake terminal: what
 * each reply means, that bad replies are asked again, and that a prompt answered elsewhere stops.
 * Where linkctl's server and token come from (cli/target.ts); commands in messages on a terminal;
 * doctor's FIX and optional checks.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { create } from '@bufbuild/protobuf';
import { InteractionDecision, InteractionKind, InteractionSchema, InteractionScope } from '../../gen/link/v1/run_pb.js';
import { askInline, describeInteraction, LineReader, parsePermissionReply, parseQuestionReply } from '../../cli/interactions.js';
import { resolveTarget } from '../../cli/target.js';
import { forTerminal } from '../../common/terminal.js';
import { formatChecks, needsFixing } from '../../agent/doctor.js';
import { tempDir } from '../helpers/temp.js';

const permission = create(InteractionSchema, { id: 'int_1', kind: InteractionKind.PERMISSION, tool: 'Bash', title: 'Run `npm test`', command: 'npm test', cwd: '/home/ada/app' });
const question = create(InteractionSchema, {
  id: 'int_2',
  kind: InteractionKind.QUESTION,
  tool: 'AskUserQuestion',
  questions: [{ id: 'q1', header: 'Framework', text: 'Which one?', options: [{ label: 'React' }, { label: 'Vue', description: 'smaller' }] }],
});

/** A fake terminal: lines typed into `input`, what was written to `out`. */
function terminal() {
  const input = new PassThrough();
  const out = new PassThrough();
  let written = '';
  out.on('data', (chunk) => (written += chunk));
  const reader = new LineReader(input);
  return { reader, out, type: (line: string) => input.write(`${line}\n`), end: () => input.end(), written: () => written };
}

describe('linkctl inline prompts', () => {
  it('y allows once, a allows in the thread, n denies (with the reason typed after it)', () => {
    assert.deepEqual(parsePermissionReply('y'), { decision: InteractionDecision.ALLOW, scope: InteractionScope.ONCE, answers: [], message: '' });
    assert.deepEqual(parsePermissionReply(' A '), { decision: InteractionDecision.ALLOW, scope: InteractionScope.THREAD, answers: [], message: '' });
    assert.deepEqual(parsePermissionReply('n use yarn instead'), { decision: InteractionDecision.DENY, scope: InteractionScope.ONCE, answers: [], message: 'use yarn instead' });
    assert.equal(parsePermissionReply('maybe'), undefined);
    assert.equal(parsePermissionReply(''), undefined);
  });

  it('a question takes an option number, several where allowed, or free text', () => {
    assert.deepEqual(parseQuestionReply('2', ['React', 'Vue'], false), { selected: ['Vue'], text: '' });
    assert.deepEqual(parseQuestionReply('1, 2', ['React', 'Vue'], true), { selected: ['React', 'Vue'], text: '' });
    assert.equal(parseQuestionReply('1,2', ['React', 'Vue'], false), undefined, 'one option only');
    assert.equal(parseQuestionReply('3', ['React', 'Vue'], false), undefined, 'no third option');
    assert.deepEqual(parseQuestionReply('Svelte, please', ['React', 'Vue'], false), { selected: [], text: 'Svelte, please' });
  });

  it('asks again after a reply it cannot use, and shows the command and directory', async () => {
    const t = terminal();
    const answer = askInline(permission, t.reader, t.out);
    t.type('sure');
    t.type('a');
    assert.deepEqual(await answer, { decision: InteractionDecision.ALLOW, scope: InteractionScope.THREAD, answers: [], message: '' });
    assert.match(t.written(), /\(type y, n or a\)/);
    assert.deepEqual(describeInteraction(permission), ['Run `npm test` (Bash)', '  $ npm test', '  in /home/ada/app']);
    t.reader.close();
  });

  it('answers a question by option, written to the terminal with its options', async () => {
    const t = terminal();
    const answer = askInline(question, t.reader, t.out);
    t.type('');
    t.type('2');
    assert.deepEqual(await answer, {
      decision: InteractionDecision.UNSPECIFIED,
      scope: InteractionScope.UNSPECIFIED,
      answers: [{ questionId: 'q1', selected: ['Vue'], text: '' }],
      message: '',
    });
    assert.match(t.written(), /Framework\? a number \(1-2\) or your own words/);
    assert.deepEqual(describeInteraction(question), ['Framework: Which one?', '  1) React', '  2) Vue — smaller']);
    t.reader.close();
  });

  it('stops asking when answered elsewhere (aborted) or when the input ends', async () => {
    const t = terminal();
    const abort = new AbortController();
    const answer = askInline(permission, t.reader, t.out, abort.signal);
    abort.abort();
    assert.equal(await answer, undefined);
    // The next prompt still gets the next line typed.
    const next = askInline(permission, t.reader, t.out);
    t.type('n');
    assert.equal((await next)?.decision, InteractionDecision.DENY);
    const ended = askInline(permission, t.reader, t.out);
    t.end();
    assert.equal(await ended, undefined);
  });
});

describe("linkctl's server and token", () => {
  const stack = (dir: string) => ({
    serverPid: process.pid,
    server: 'http://127.0.0.1:9999',
    url: '',
    userTokenFile: join(dir, 'local-user.token'),
    loginUrlFile: '',
    agentDataDir: '',
    agentTokenFile: '',
  });

  it('flags and environment first, then the local stack, then the config file', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'local-user.token'), 'lu_stack\n');
    await writeFile(join(dir, 'mine.token'), 'lu_file\n');
    const config = { server: 'https://link.example.com', token: 'lu_config' };
    assert.deepEqual(await resolveTarget({}, stack(dir), config), { server: 'http://127.0.0.1:9999', serverFrom: 'local stack', token: 'lu_stack', tokenFrom: join(dir, 'local-user.token') });
    assert.deepEqual(await resolveTarget({}, undefined, config), { server: 'https://link.example.com', serverFrom: 'config file', token: 'lu_config', tokenFrom: 'config file' });
    assert.equal((await resolveTarget({ token: 'lu_flag' }, stack(dir), config)).token, 'lu_flag');
    assert.equal((await resolveTarget({ tokenFile: join(dir, 'mine.token') }, stack(dir), config)).token, 'lu_file');
    assert.equal((await resolveTarget({}, undefined, {})).server, 'http://127.0.0.1:9090');
    await assert.rejects(resolveTarget({ tokenFile: join(dir, 'missing') }, stack(dir), config), /cannot read the token file/);
  });

  it("the local stack's token goes only to the local stack's server", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'local-user.token'), 'lu_stack\n');
    const elsewhere = await resolveTarget({ server: 'https://link.example.com' }, stack(dir), {});
    assert.equal(elsewhere.token, undefined);
    const same = await resolveTarget({ server: '127.0.0.1:9999/' }, stack(dir), {});
    assert.equal(same.token, 'lu_stack');
  });
});

describe('messages on a terminal', () => {
  it('backticked commands are bold on a terminal, and stay as written elsewhere', () => {
    const text = 'Start linkd on it (`linkd start`)';
    assert.equal(forTerminal(text, { isTTY: true }, {}), 'Start linkd on it (\u001b[1mlinkd start\u001b[22m)');
    assert.equal(forTerminal(text, { isTTY: false }, {}), text);
    assert.equal(forTerminal(text, { isTTY: true }, { NO_COLOR: '1' }), text);
  });

  it('doctor marks what needs fixing FIX and what is optional --, and only the first counts', () => {
    const checks = [
      { name: 'server', ok: true, detail: 'http://127.0.0.1:9090 answers: SERVING' },
      { name: 'codex', ok: false, optional: true, detail: 'codex is not on PATH', fix: 'install it: npm install -g @openai/codex' },
    ];
    assert.equal(needsFixing(checks), false);
    assert.match(formatChecks(checks), /^ok {3}server .*\n-- {3}codex +codex is not on PATH\n +→ install it/);
    assert.equal(needsFixing([...checks, { name: 'link token', ok: false, detail: 'no token' }]), true);
  });
});
