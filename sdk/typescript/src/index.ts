/**
 * link-client: a typed client of the Link control plane's API.
 *
 * ```ts
 * import { createLinkClient, followRun, waitForLink } from 'link-client';
 * const client = createLinkClient({ server: 'https://link.example.com:9090', tokenFile: '~/.link-token' });
 * const { links } = await client.links.listLinks({});
 * ```
 */
export { createLinkClient, type LinkClient, type LinkClientOptions } from './client.js';
export { ERROR_DOMAIN, metadataOf, reasonOf } from './errors.js';
export { followRun, type FollowRunOptions } from './follow-run.js';
export { waitForLink, type WaitForLinkOptions } from './wait-for-link.js';
export * from './gen.js';
export { Code, ConnectError } from '@connectrpc/connect';
