/**
 * Where to open a pull request for a branch, computed from the remote's URL alone (no API call):
 * GitHub's compare page and GitLab's new merge request page, for https and ssh remotes
 * (`https://host/o/r.git`, `ssh://git@host/o/r.git`, `git@host:o/r.git`).
 */

/** A remote URL without the user name and password an https URL may carry. */
export function withoutCredentials(remote: string): string {
  return remote.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, (_, scheme: string) => (scheme.toLowerCase().startsWith('http') ? scheme : `${scheme}git@`));
}

/** The web host and project path of a remote (`{ host: 'github.com', path: 'o/r' }`), or undefined. */
export function remoteProject(remote: string): { host: string; path: string } | undefined {
  let host: string;
  let path: string;
  const scp = /^(?:[^@/\s]+@)?([^:/\s]+):(?!\/\/)(.+)$/.exec(remote);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(remote)) {
    let url: URL;
    try {
      url = new URL(remote);
    } catch {
      return undefined;
    }
    if (!['https:', 'http:', 'ssh:', 'git+ssh:', 'ssh+git:'].includes(url.protocol)) return undefined;
    host = url.hostname;
    path = url.pathname;
  } else if (scp) {
    [, host, path] = scp;
  } else {
    return undefined;
  }
  path = path.replace(/^\/+|\/+$/g, '').replace(/\.git$/, '');
  if (!host || path.split('/').length < 2 || path.split('/').some((part) => part === '' || part === '.' || part === '..')) return undefined;
  return { host: host.toLowerCase(), path };
}

/**
 * The page that opens a pull request (GitHub, and hosts named github.*) or merge request (GitLab,
 * and hosts named gitlab.*) for `branch` from `remote`; undefined for other hosts, whose web
 * address cannot be told from the URL.
 */
export function pullRequestUrl(remote: string, branch: string): string | undefined {
  const project = remoteProject(remote);
  if (!project) return undefined;
  const path = project.path.split('/').map(encodeURIComponent).join('/');
  const ref = branch.split('/').map(encodeURIComponent).join('/');
  if (project.host === 'github.com' || project.host.startsWith('github.')) {
    return `https://${project.host}/${path}/compare/${ref}?expand=1`;
  }
  if (project.host === 'gitlab.com' || project.host.startsWith('gitlab.')) {
    return `https://${project.host}/${path}/-/merge_requests/new?merge_request[source_branch]=${encodeURIComponent(branch)}`;
  }
  return undefined;
}
