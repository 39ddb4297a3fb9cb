import { expect, fixture, html } from '@open-wc/testing';
import { create, toJsonString } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code } from '@connectrpc/connect';
import {
  InteractionAnswerSchema,
  InteractionDecision,
  InteractionKind,
  InteractionResolvedSchema,
  InteractionSchema,
  InteractionScope,
  InteractionState,
  type Interaction,
} from '../../gen/link/v1/run_pb.js';
import { InteractionRecordSchema, ThreadService, type AnswerInteractionRequest } from '../../gen/link/v1/thread_service_pb.js';
import { linkError } from '../../common/errors.js';
import { Reason } from '../../common/reasons.js';
import type { LinkInteractionCard } from '../src/link-interaction-card.js';
import '../src/link-interaction-card.js';
import { FakeDirectory, inMemoryClients, providerFor } from './helpers.js';

const bash = (id = 'perm_1', command = 'npm test') =>
  create(InteractionSchema, {
    id,
    kind: InteractionKind.PERMISSION,
    tool: 'Bash',
    title: `Run \`${command}\``,
    command,
    cwd: '/home/ada/code/app',
    inputJson: JSON.stringify({ command }),
    suggestedRule: { tool: 'Bash', commandPrefix: command },
  });

/** A server that records answers and answers with the record (or the error given). */
function answering(error?: () => Error) {
  const answers: AnswerInteractionRequest[] = [];
  const clients = inMemoryClients((router) =>
    router.service(ThreadService, {
      async answerInteraction(request: AnswerInteractionRequest) {
        answers.push(request);
        if (error) throw error();
        const answer = create(InteractionAnswerSchema, {
          decision: request.decision,
          scope: request.scope,
          answers: request.answers,
          message: request.message,
          answeredBy: 'ada',
          answeredAt: timestampFromDate(new Date()),
        });
        return { interaction: create(InteractionRecordSchema, { runId: request.runId, state: InteractionState.ANSWERED, answer, interaction: bash(request.interactionId) }) };
      },
    } as never),
  );
  return { clients, answers };
}

async function card(interaction: Interaction, clients = answering().clients, props: Partial<LinkInteractionCard> = {}): Promise<LinkInteractionCard> {
  const host = providerFor(clients, new FakeDirectory([]));
  const el = await fixture<LinkInteractionCard>(html`<link-interaction-card .interaction=${interaction} runId="run_1" .resolved=${props.resolved} .askedAt=${props.askedAt}></link-interaction-card>`, {
    parentNode: host,
  });
  return el;
}

const press = (key: string, from: EventTarget = document.body) => from.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true, composed: true, cancelable: true }));
const section = (el: LinkInteractionCard) => el.shadowRoot!.querySelector('section')!;

describe('the approval card', () => {
  it('shows the tool, the command and its directory, with Approve, Deny and Always allow', async () => {
    const el = await card(bash());
    const root = el.shadowRoot!;
    expect(section(el).dataset.state).to.equal('pending');
    expect(root.textContent).to.contain('Bash');
    expect(root.querySelector('[data-testid=title] code')!.textContent).to.equal('npm test', 'the title\'s `code` as code');
    expect(root.querySelector('[data-testid=command]')!.textContent).to.equal('$ npm test');
    expect(root.textContent).to.contain('in /home/ada/code/app');
    const buttons = [...root.querySelectorAll('button')].map((b) => [b.firstChild!.textContent, b.querySelector('kbd')!.textContent]);
    expect(buttons).to.deep.equal([['Approve', 'y'], ['Deny', 'n'], ['Always allow in this thread', 'a']]);
    expect(root.querySelector<HTMLButtonElement>('button.always')!.title).to.contain('Bash `npm test`');
  });

  it('answers from the keyboard: y approves, n denies, a always allows in this thread', async () => {
    for (const [key, decision, scope] of [
      ['y', InteractionDecision.ALLOW, InteractionScope.ONCE],
      ['n', InteractionDecision.DENY, InteractionScope.ONCE],
      ['a', InteractionDecision.ALLOW, InteractionScope.THREAD],
    ] as const) {
      const server = answering();
      const el = await card(bash(`perm_${key}`), server.clients);
      press(key);
      await waitFor(() => section(el).dataset.state === 'answered');
      expect(server.answers.map((a) => [a.runId, a.interactionId, a.decision, a.scope])).to.deep.equal([['run_1', `perm_${key}`, decision, scope]]);
      el.remove();
    }
  });

  it('keys answer the focused card, else the newest one, and never while typing', async () => {
    const server = answering();
    const older = await card(bash('perm_old', 'ls'), server.clients, { askedAt: new Date(1_000) });
    const newer = await card(bash('perm_new', 'make'), server.clients, { askedAt: new Date(2_000) });
    const composer = document.createElement('textarea');
    document.body.append(composer);
    press('y', composer);
    await new Promise((r) => setTimeout(r, 50));
    expect(server.answers).to.deep.equal([], 'typing y in the composer answers nothing');
    composer.remove();

    section(older).focus();
    press('n', section(older));
    await waitFor(() => section(older).dataset.state === 'answered');
    expect(server.answers.map((a) => a.interactionId)).to.deep.equal(['perm_old']);
    expect(section(newer).dataset.state).to.equal('pending');

    press('y');
    await waitFor(() => section(newer).dataset.state === 'answered');
    expect(server.answers.map((a) => [a.interactionId, a.decision])).to.deep.equal([
      ['perm_old', InteractionDecision.DENY],
      ['perm_new', InteractionDecision.ALLOW],
    ]);
  });

  it('an answered card shows the answer, who gave it and when, and whether it reached the machine', async () => {
    const at = new Date('2026-12-01T12:34:56Z');
    const resolved = create(InteractionResolvedSchema, {
      interactionId: 'perm_1',
      state: InteractionState.ANSWERED,
      answer: { decision: InteractionDecision.ALLOW, scope: InteractionScope.THREAD, answeredBy: 'grace', answeredAt: timestampFromDate(at) },
    });
    const el = await card(bash(), undefined, { resolved });
    const outcome = el.shadowRoot!.querySelector('[data-testid=outcome]')!.textContent!.replace(/\s+/g, ' ');
    expect(outcome).to.contain('Always allowed in this thread (Bash `npm test`)');
    expect(outcome).to.contain(`by grace at ${at.toLocaleTimeString()}`);
    expect(el.shadowRoot!.querySelector('[data-testid=delivery]')!.textContent).to.equal('Reached the machine.');
    expect(el.shadowRoot!.querySelectorAll('button').length).to.equal(0, 'nothing left to press');
  });

  it('an answer that came second shows the one that won', async () => {
    const winner = create(InteractionAnswerSchema, { decision: InteractionDecision.DENY, answeredBy: 'grace', message: 'not on main' });
    const server = answering(() =>
      linkError(Code.FailedPrecondition, Reason.AlreadyAnswered, 'already answered', { 'interaction-answer': toJsonString(InteractionAnswerSchema, winner) }),
    );
    const el = await card(bash(), server.clients);
    el.shadowRoot!.querySelector<HTMLButtonElement>('button.approve')!.click();
    await waitFor(() => section(el).dataset.state === 'answered');
    const outcome = el.shadowRoot!.querySelector('[data-testid=outcome]')!.textContent!.replace(/\s+/g, ' ');
    expect(outcome).to.contain('Someone answered first');
    expect(outcome).to.contain('Denied');
    expect(outcome).to.contain('by grace');
    expect(outcome).to.contain('not on main');
    expect(el.shadowRoot!.querySelector('[data-testid=delivery]')!.textContent).to.contain('On its way');
  });

  it('an interaction Link allowed itself is one line saying by what', async () => {
    const el = await card(create(InteractionSchema, { ...bash(), allowedBy: 'thread rule: Bash `npm test`' }));
    const line = el.shadowRoot!.querySelector('[data-kind=allowed]')!;
    expect(line.textContent!.replace(/\s+/g, ' ')).to.contain('npm test — allowed by thread rule: Bash `npm test`');
    expect(el.shadowRoot!.querySelector('button')).to.equal(null);
  });

  it('an edit shows its diff, highlighted', async () => {
    const diff = ['--- a/src/app.ts', '+++ b/src/app.ts', '@@ -1,2 +1,2 @@', ' const a = 1;', '-const b = 2;', '+const b = "two";'].join('\n');
    const el = await card(create(InteractionSchema, { id: 'e1', kind: InteractionKind.PERMISSION, tool: 'Edit', title: 'Edit src/app.ts', diff, paths: ['src/app.ts'] }));
    const changes = el.shadowRoot!.querySelector('link-changes')!;
    await changes.updateComplete;
    const file = changes.shadowRoot!.querySelector('details[data-path="src/app.ts"]')!;
    expect(file.textContent).to.contain('+1');
    expect(file.querySelector('.line.add .hljs-string')!.textContent).to.equal('"two"');
    expect(file.querySelector('.line.del')!.textContent).to.contain('const b = 2;');
  });
});

describe('the question card', () => {
  it('offers the options (radio buttons, or check boxes for a multiple choice) and free text, and sends the answers', async () => {
    const server = answering();
    const question = create(InteractionSchema, {
      id: 'q1',
      kind: InteractionKind.QUESTION,
      tool: 'AskUserQuestion',
      title: 'Which framework?',
      questions: [
        { id: 'fw', header: 'Framework', text: 'Which framework?', options: [{ label: 'Lit' }, { label: 'React', description: 'the popular one' }] },
        { id: 'extras', header: 'Extras', text: 'What else?', multiSelect: true, options: [{ label: 'tests' }, { label: 'docs' }] },
      ],
    });
    const el = await card(question, server.clients);
    const root = el.shadowRoot!;
    expect(root.querySelectorAll('fieldset[data-question-id=fw] input[type=radio]').length).to.equal(2);
    expect(root.querySelectorAll('fieldset[data-question-id=extras] input[type=checkbox]').length).to.equal(2);
    const submit = root.querySelector<HTMLButtonElement>('button[type=submit]')!;
    expect(submit.disabled).to.equal(true, 'nothing chosen yet');
    press('y');
    await new Promise((r) => setTimeout(r, 50));
    expect(server.answers).to.deep.equal([], 'y does not answer a question');

    root.querySelectorAll<HTMLInputElement>('fieldset[data-question-id=fw] input[type=radio]')[0].click();
    for (const box of root.querySelectorAll<HTMLInputElement>('fieldset[data-question-id=extras] input[type=checkbox]')) box.click();
    const free = root.querySelector<HTMLInputElement>('fieldset[data-question-id=extras] input[type=text]')!;
    free.value = 'a changelog';
    free.dispatchEvent(new Event('input'));
    await el.updateComplete;
    submit.click();
    await waitFor(() => server.answers.length === 1);
    expect(server.answers[0].answers.map((a) => [a.questionId, [...a.selected], a.text])).to.deep.equal([
      ['fw', ['Lit'], ''],
      ['extras', ['tests', 'docs'], 'a changelog'],
    ]);
  });
});

async function waitFor(condition: () => unknown, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
