/**
 * Repository URLs by git's rules, as both sides check them (the control plane before it queues,
 * linkd before it clones): what git only fetches from passes; what git or ssh would read as an
 * option, or a transport that runs a command, is refused with why.
 */
import assert from 'node:assert/strict';
import { checkRepository, repositoryProblem, SandboxError } from '../../common/sandbox-names.js';

describe('repository URLs', () => {
  it('accepts what git only fetches from', () => {
    for (const url of [
      'https://github.com/org/repo.git',
      'https://git.example.com:8443/team/repo',
      'https://[::1]:8443/repo',
      'ssh://git@github.com/org/repo.git',
      'ssh://git@host.example:2222/srv/repo',
      'git@github.com:org/repo.git',
      'file:///srv/git/repo',
    ]) {
      assert.equal(repositoryProblem(url), undefined, url);
    }
  });

  it('refuses hosts, users and paths that git or ssh would take as options, escaped hosts and transports', () => {
    for (const url of [
      'ssh://-oProxyCommand=id/repo',
      'ssh://git@-oProxyCommand=id/repo',
      'ssh://%2doProxyCommand=id/repo',
      'ssh://-l@host/repo',
      'git@-oProxyCommand=id:repo',
      '-oProxyCommand=id@host:repo',
      'git@host:-upload-pack=id',
      'ext::sh',
      'fd::17',
      'https://exa mple.com/repo',
      'file://other.host/share/repo',
    ]) {
      assert.ok(repositoryProblem(url), url);
    }
  });

  it('linkd refuses an ssh URL with an option for a host even where ssh is allowed', () => {
    assert.throws(
      () => checkRepository('ssh://-oProxyCommand=touch${IFS}/tmp/x/repo', new Set(['ssh'])),
      (error: unknown) => error instanceof SandboxError && error.reason === 'INVALID_FIELD' && error.field === 'repository',
    );
  });
});
