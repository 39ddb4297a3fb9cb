import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, query, state } from 'lit/decorators.js';
import { provide } from '@lit/context';
import { Code, ConnectError } from '@connectrpc/connect';
import type { User } from '../../gen/link/v1/user_service_pb.js';
import { apiContext, defaultClients, logIn, logOut, takeLoginSecret, type ApiClients } from './api.js';
import { directoryContext, LinkDirectory } from './link-directory.js';
import { InteractionStore, interactionsContext } from './interactions.js';
import { TabTitle } from './tab-title.js';
import { RunNotifier } from './notify.js';
import type { InteractionRecord } from '../../gen/link/v1/thread_service_pb.js';
import type { LinkConnectDialog } from './link-connect-dialog.js';
import type { LinkShortcutsHelp } from './link-shortcuts-help.js';
import type { LinkThreadList } from './link-thread-list.js';
import type { LinkThreadView } from './link-thread-view.js';
import { userContext } from './last-choice.js';
import { shortcutFor, type ShortcutAction } from './shortcuts.js';
import { applyTheme, nextTheme, storedTheme, type ThemeChoice } from './theme.js';
import { threadDirectoryContext, ThreadDirectory } from './thread-directory.js';
import './link-connect-dialog.js';
import './link-shortcuts-help.js';
import './link-login.js';
import './link-machine-indicator.js';
import './link-machine-list.js';
import './link-needs-you.js';
import './link-thread-list.js';
import './link-thread-view.js';

type Route = { page: 'thread'; threadId: string } | { page: 'machines' };

const THEME_LABELS: Record<ThemeChoice, string> = { system: '◐ Auto', dark: '● Dark', light: '○ Light' };

function route(hash: string): Route {
  if (hash.startsWith('#/machines')) return { page: 'machines' };
  const thread = /^#\/threads\/([A-Za-z0-9_-]{1,64})$/.exec(hash);
  return { page: 'thread', threadId: thread?.[1] ?? '' };
}

/**
 * The page: a header with the user's machines, threads in a sidebar, and the selected thread (or a
 * new one, or the machines page) in the middle. Shows the login form instead when the browser has no
 * session. Opened with link-server's login URL (`/?login=<secret>`), it first trades the secret for
 * the session cookie and takes it out of the address bar. Provides the API clients and the live
 * machine directory to every element below it.
 *
 * Routes: #/threads/<id>, #/ (a new thread), #/machines.
 *
 * The keyboard shortcuts of `shortcuts.ts` act here (`?` lists them); the theme toggle cycles
 * system, dark and light (`theme.ts`).
 */
@customElement('link-app')
export class LinkApp extends LitElement {
  @provide({ context: apiContext })
  @property({ attribute: false })
  clients: ApiClients = defaultClients();

  @provide({ context: directoryContext })
  @property({ attribute: false })
  directory: LinkDirectory = new LinkDirectory(this.clients);

  /** The user's interactions, live: the cards, "needs you", the tab title and notifications read them. */
  @provide({ context: interactionsContext })
  @property({ attribute: false })
  interactions: InteractionStore = new InteractionStore(this.clients);
  private readonly notifier = new RunNotifier();
  private tabTitle: TabTitle | undefined;
  private readonly onAsked = (e: Event) => this.notifier.needsYou((e as CustomEvent<InteractionRecord>).detail);

  @provide({ context: threadDirectoryContext })
  @property({ attribute: false })
  threadDirectory: ThreadDirectory = new ThreadDirectory(this.clients);

  @provide({ context: userContext })
  @state()
  private user: User | undefined;
  @state() private needsLogin = false;
  /** Why the login link the page was opened with did not log in, shown above the login form. */
  @state() private loginError: string | undefined;
  @state() private error: string | undefined;
  @state() private route: Route = route(window.location.hash);
  @state() private theme: ThemeChoice = storedTheme();
  @query('link-connect-dialog') private dialog!: LinkConnectDialog;
  @query('link-shortcuts-help') private help!: LinkShortcutsHelp;
  @query('link-thread-list') private threadList: LinkThreadList | null | undefined;
  @query('link-thread-view') private threadView: LinkThreadView | null | undefined;
  private readonly onHash = () => {
    this.route = route(window.location.hash);
    this.tabTitle?.opened(this.route.page === 'thread' ? this.route.threadId : '');
  };
  private readonly onKey = (event: KeyboardEvent) => {
    const action = this.user ? shortcutFor(event) : undefined;
    if (!action || this.dialog?.isOpen || (this.help?.isOpen && action !== 'help')) return;
    event.preventDefault();
    this.shortcut(action);
  };

  static styles = css`
    :host { display: flex; flex-direction: column; height: 100vh; }
    header { display: flex; align-items: center; gap: 12px; padding: 10px 20px; background: var(--link-surface, #fff); border-bottom: 1px solid var(--link-border, #e3e6ea); flex-wrap: wrap; }
    h1 { font-size: 18px; margin: 0; letter-spacing: 0.2px; }
    h1 a { color: inherit; text-decoration: none; }
    nav.top { display: flex; gap: 4px; }
    nav.top a { font-size: 14px; color: var(--link-muted, #475467); text-decoration: none; padding: 4px 10px; border-radius: 8px; }
    nav.top a[aria-current='page'] { background: var(--link-hover, #f2f4f7); color: var(--link-text, #1b1f24); }
    a:focus-visible, button:focus-visible { outline: 2px solid #2e90fa; outline-offset: 2px; }
    .spacer { flex: 1; }
    .who { color: var(--link-muted, #475467); font-size: 13px; }
    button { font: inherit; font-size: 13px; border-radius: 8px; padding: 6px 12px; cursor: pointer; border: 1px solid var(--link-border, #d0d5dd); background: var(--link-surface, #fff); }
    button.primary { background: var(--link-primary, #1b1f24); color: var(--link-on-primary, #fff); border-color: var(--link-primary, #1b1f24); }
    .body { flex: 1; display: flex; min-height: 0; }
    aside { width: 260px; flex: none; border-right: 1px solid var(--link-border, #e3e6ea); background: var(--link-sunken, #fbfbfc); padding: 12px; overflow-y: auto; box-sizing: border-box; }
    aside a.new { display: block; text-align: center; margin-bottom: 10px; font-size: 14px; border-radius: 8px; padding: 7px; background: var(--link-primary, #1b1f24); color: var(--link-on-primary, #fff); text-decoration: none; }
    main { flex: 1; min-width: 0; display: flex; flex-direction: column; }
    main.page { overflow-y: auto; padding: 24px; }
    main.page > * { max-width: 960px; margin: 0 auto; width: 100%; }
    .error { color: #b42318; padding: 16px 24px; }
    .login { padding: 24px; }
    @media (max-width: 720px) {
      .body { flex-direction: column; }
      aside { width: auto; max-height: 30vh; border-right: 0; border-bottom: 1px solid var(--link-border, #e3e6ea); }
    }
  `;

  connectedCallback(): void {
    super.connectedCallback();
    window.addEventListener('hashchange', this.onHash);
    this.tabTitle = new TabTitle(this.interactions);
    this.tabTitle.opened(this.route.page === 'thread' ? this.route.threadId : '');
    this.interactions.addEventListener('asked', this.onAsked);
    document.addEventListener('keydown', this.onKey);
    this.threadDirectory.addEventListener('change', this.onThreads);
    applyTheme(this.theme);
    void this.start();
  }

  /** Opened with a login link (`?login=…`): trade its secret for the session cookie first. */
  private async start(): Promise<void> {
    const loginSecret = takeLoginSecret();
    if (loginSecret) this.loginError = await logIn({ loginSecret });
    await this.loadUser();
  }

  disconnectedCallback(): void {
    super.disconnectedCallback();
    window.removeEventListener('hashchange', this.onHash);
    document.removeEventListener('keydown', this.onKey);
    this.directory.stop();
    this.interactions.stop();
    this.interactions.removeEventListener('asked', this.onAsked);
    this.tabTitle?.close();
    this.threadDirectory.stop();
    this.threadDirectory.removeEventListener('change', this.onThreads);
  }

  private async loadUser(): Promise<void> {
    try {
      const { user } = await this.clients.users.getCurrentUser({});
      this.user = user;
      this.needsLogin = false;
      this.error = undefined;
      this.directory.start();
      this.interactions.start();
      this.threadDirectory.start();
    } catch (error) {
      if (ConnectError.from(error).code === Code.Unauthenticated) this.needsLogin = true;
      else this.error = `Cannot reach the control plane: ${ConnectError.from(error).rawMessage}`;
    }
  }

  private async logOut(): Promise<void> {
    await logOut();
    this.directory.stop();
    this.interactions.stop();
    this.threadDirectory.stop();
    this.user = undefined;
    this.needsLogin = true;
  }

  private threadChanged(threadId: string): void {
    if (threadId && (this.route.page !== 'thread' || this.route.threadId !== threadId)) window.location.hash = `#/threads/${threadId}`;
  }

  /** The user's threads changed (live, from WatchThreads): the tab title and the notifications follow. */
  private readonly onThreads = () => {
    const threads = this.threadDirectory.sorted();
    this.tabTitle?.threads(threads);
    this.notifier.threads(threads);
  };

  private main() {
    if (this.route.page === 'machines') {
      return html`<main class="page"><link-machine-list @link-connect-machine=${() => this.dialog.show()}></link-machine-list></main>`;
    }
    const threadId = this.route.threadId;
    return html`
      <aside aria-label="Threads">
        <a class="new" href="#/">New thread</a>
        <link-thread-list .selected=${threadId}></link-thread-list>
      </aside>
      <main @link-send=${() => this.notifier.askOnce()}><link-thread-view .threadId=${threadId} @link-thread-changed=${(e: CustomEvent<string>) => this.threadChanged(e.detail)}></link-thread-view></main>
    `;
  }

  private async shortcut(action: ShortcutAction): Promise<void> {
    switch (action) {
      case 'help':
        if (this.help.isOpen) this.help.close();
        else this.help.show();
        return;
      case 'new-thread':
        window.location.hash = '#/';
        this.route = route('#/');
        await this.updateComplete;
        this.threadView?.focusComposer();
        return;
      case 'focus-composer':
        if (this.route.page !== 'thread') window.location.hash = '#/';
        await this.updateComplete;
        this.threadView?.focusComposer();
        return;
      case 'search':
        if (this.route.page !== 'thread') window.location.hash = '#/';
        await this.updateComplete;
        this.threadList?.focusSearch();
        return;
      case 'next-thread':
      case 'previous-thread': {
        const listed = this.threadList?.listed ?? [];
        if (listed.length === 0) return;
        const at = listed.findIndex((t) => this.route.page === 'thread' && t.id === this.route.threadId);
        const step = action === 'next-thread' ? 1 : -1;
        const next = at < 0 ? (step > 0 ? 0 : listed.length - 1) : Math.min(listed.length - 1, Math.max(0, at + step));
        window.location.hash = `#/threads/${listed[next].id}`;
        return;
      }
      case 'stop-run':
        this.threadView?.stopRun();
        return;
    }
  }

  private toggleTheme(): void {
    this.theme = nextTheme(this.theme);
    applyTheme(this.theme);
  }

  render() {
    const page = this.route.page;
    return html`
      <header>
        <h1><a href="#/">Link</a></h1>
        ${this.user
          ? html`<nav class="top" aria-label="Pages">
                <a href="#/" aria-current=${page === 'thread' ? 'page' : 'false'}>Threads</a>
                <a href="#/machines" aria-current=${page === 'machines' ? 'page' : 'false'}>Machines</a>
              </nav>
              <span class="spacer"></span>
              <link-needs-you></link-needs-you>
              <link-machine-indicator></link-machine-indicator>
              <span class="who">${this.user.local ? 'local user' : this.user.name}</span>
              <button class="theme" data-testid="theme-toggle" title="Colours: follow the system, dark or light"
                aria-label="Theme: ${this.theme}" @click=${() => this.toggleTheme()}>${THEME_LABELS[this.theme]}</button>
              <button class="help" aria-label="Keyboard shortcuts" title="Keyboard shortcuts (?)" @click=${() => this.help.show()}>?</button>
              <button class="primary" @click=${() => this.dialog.show()}>Connect a machine</button>
              <button @click=${() => this.logOut()}>Log out</button>`
          : nothing}
      </header>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
      ${this.needsLogin
        ? html`<div class="login"><link-login .error=${this.loginError} @link-logged-in=${() => this.loadUser()}></link-login></div>`
        : this.user
          ? html`<div class="body">${this.main()}</div>`
          : nothing}
      <link-connect-dialog></link-connect-dialog>
      <link-shortcuts-help></link-shortcuts-help>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'link-app': LinkApp;
  }
}
