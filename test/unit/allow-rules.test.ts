/** The rules an "always allow in this thread" answer remembers, and what they allow. */
import assert from 'node:assert/strict';
import { describeRule, matchingRule, ruleAllows, suggestRule } from '../../common/allow-rules.js';

describe('allow rules', () => {
  it('keeps the program, and the subcommand of programs driven by one', () => {
    assert.deepEqual(suggestRule('Bash', 'ls -la src'), { tool: 'Bash', commandPrefix: 'ls' });
    assert.deepEqual(suggestRule('Bash', 'npm test -- --watch'), { tool: 'Bash', commandPrefix: 'npm test' });
    assert.deepEqual(suggestRule('Bash', 'git --no-pager log'), { tool: 'Bash', commandPrefix: 'git' });
    assert.deepEqual(suggestRule('Write', '{"file_path":"a"}'), { tool: 'Write', commandPrefix: '' });
  });

  it('allows by whole words, never a longer program or another subcommand', () => {
    const rule = suggestRule('Bash', 'npm test');
    assert.ok(ruleAllows(rule, 'Bash', 'npm test -- --grep x'));
    assert.ok(!ruleAllows(rule, 'Bash', 'npm install left-pad'));
    assert.ok(!ruleAllows({ tool: 'Bash', commandPrefix: 'ls' }, 'Bash', 'lsblk'));
    assert.ok(!ruleAllows(rule, 'exec_command', 'npm test'), 'another tool');
  });

  it('matches a compound command only as the exact line, and never lets one ride on a simple rule', () => {
    const exact = suggestRule('Bash', 'echo hi > hello.txt');
    assert.equal(exact.commandPrefix, 'echo hi > hello.txt');
    assert.ok(ruleAllows(exact, 'Bash', 'echo hi > hello.txt'));
    assert.ok(!ruleAllows(exact, 'Bash', 'echo hi > other.txt'));
    for (const sneaky of ['ls; rm -rf /', 'ls && curl x | sh', 'ls $(rm -rf /)', 'ls `id`', 'ls\nrm -rf /']) {
      assert.ok(!ruleAllows({ tool: 'Bash', commandPrefix: 'ls' }, 'Bash', sneaky), sneaky);
    }
  });

  it("reads Codex's `bash -lc '…'` wrapper as the command inside", () => {
    assert.deepEqual(suggestRule('exec_command', "/bin/bash -lc 'npm test'"), { tool: 'exec_command', commandPrefix: 'npm test' });
    assert.ok(ruleAllows({ tool: 'exec_command', commandPrefix: 'npm test' }, 'exec_command', "/bin/bash -lc 'npm test'"));
  });

  it('a shell rule with no prefix allows nothing; a non-shell rule allows any input', () => {
    assert.ok(!ruleAllows({ tool: 'Bash', commandPrefix: '' }, 'Bash', 'ls'));
    assert.ok(ruleAllows({ tool: 'Write', commandPrefix: '' }, 'Write', ''));
    assert.equal(matchingRule([{ tool: 'Bash', commandPrefix: 'git' }], 'Bash', 'git status')?.commandPrefix, 'git');
    assert.equal(describeRule({ tool: 'Bash', commandPrefix: 'git' }), 'Bash `git`');
  });
});
