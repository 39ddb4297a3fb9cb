import assert from 'node:assert/strict';
import { pullRequestUrl, remoteProject, withoutCredentials } from '../../common/pull-requests.js';

describe('pull-request links from a remote URL', () => {
  it('GitHub: the compare page, from https, ssh and scp-style remotes', () => {
    for (const remote of ['https://github.com/acme/app.git', 'https://github.com/acme/app', 'ssh://git@github.com/acme/app.git', 'git@github.com:acme/app.git', 'github.com:acme/app']) {
      assert.equal(pullRequestUrl(remote, 'feature/login'), 'https://github.com/acme/app/compare/feature/login?expand=1', remote);
    }
  });

  it('GitLab: the new merge request page, subgroups included', () => {
    assert.equal(pullRequestUrl('git@gitlab.com:acme/app.git', 'fix'), 'https://gitlab.com/acme/app/-/merge_requests/new?merge_request[source_branch]=fix');
    assert.equal(
      pullRequestUrl('https://gitlab.com/acme/team/app.git', 'topic/a b'),
      'https://gitlab.com/acme/team/app/-/merge_requests/new?merge_request[source_branch]=topic%2Fa%20b',
    );
    assert.equal(pullRequestUrl('ssh://git@gitlab.acme.dev:2222/acme/app.git', 'x'), 'https://gitlab.acme.dev/acme/app/-/merge_requests/new?merge_request[source_branch]=x');
  });

  it('no link for other hosts, local paths or malformed URLs', () => {
    for (const remote of ['file:///srv/app.git', '/home/me/app', 'https://bitbucket.org/acme/app.git', 'https://github.com/acme', 'https://github.com/../x', 'javascript:alert(1)', 'ftp://github.com/a/b']) {
      assert.equal(pullRequestUrl(remote, 'main'), undefined, remote);
    }
    assert.equal(remoteProject('git@github.com:acme/app.git')?.path, 'acme/app');
  });

  it('credentials are removed from https remotes', () => {
    assert.equal(withoutCredentials('https://user:secret@github.com/acme/app.git'), 'https://github.com/acme/app.git');
    assert.equal(withoutCredentials('git@github.com:acme/app.git'), 'git@github.com:acme/app.git');
  });
});
