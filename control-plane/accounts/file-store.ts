import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  hashToken,
  newId,
  newToken,
  type AccountStore,
  type LinkLastSeen,
  type LinkRecord,
  type UserRecord,
} from './account-store.js';

interface FileState {
  version: 1;
  users: (UserRecord & { tokenHashes: string[]; local?: boolean })[];
  links: (LinkRecord & { tokenHash: string })[];
}

/**
 * The skeleton's account store: one JSON file (`accounts.json`) in the data directory, rewritten
 * atomically (temporary file, then rename) on every change. One process owns it.
 */
export class FileAccountStore implements AccountStore {
  private state: FileState = { version: 1, users: [], links: [] };
  private writing: Promise<void> = Promise.resolve();

  private constructor(private readonly file: string) {}

  /** Opens (or creates) the store in `dataDir`. */
  static async open(dataDir: string): Promise<FileAccountStore> {
    const store = new FileAccountStore(join(dataDir, 'accounts.json'));
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    try {
      store.state = JSON.parse(await readFile(store.file, 'utf8')) as FileState;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new Error(`cannot read ${store.file}: ${(error as Error).message}`, { cause: error });
      }
    }
    return store;
  }

  async userByToken(token: string): Promise<UserRecord | undefined> {
    const hash = hashToken(token);
    const user = this.state.users.find((u) => u.tokenHashes.includes(hash));
    return user && publicUser(user);
  }

  async linkByToken(token: string): Promise<LinkRecord | undefined> {
    const hash = hashToken(token);
    const link = this.state.links.find((l) => l.tokenHash === hash);
    return link && publicLink(link);
  }

  async localUser(): Promise<UserRecord> {
    let user = this.state.users.find((u) => u.local);
    if (!user) {
      user = { id: newId('usr'), name: 'local', createdAt: Date.now(), tokenHashes: [], local: true };
      this.state.users.push(user);
      await this.save();
    }
    return publicUser(user);
  }

  async listLinks(userId: string): Promise<LinkRecord[]> {
    return this.state.links.filter((l) => l.userId === userId).map(publicLink);
  }

  async getLink(userId: string, linkId: string): Promise<LinkRecord | undefined> {
    const link = this.state.links.find((l) => l.id === linkId && l.userId === userId);
    return link && publicLink(link);
  }

  async recordSeen(linkId: string, seen: LinkLastSeen): Promise<void> {
    const link = this.state.links.find((l) => l.id === linkId);
    if (!link) return;
    link.lastSeen = seen;
    await this.save();
  }

  async createUser(name: string): Promise<{ user: UserRecord; token: string }> {
    const token = newToken('lu');
    const user = { id: newId('usr'), name, createdAt: Date.now(), tokenHashes: [hashToken(token)] };
    this.state.users.push(user);
    await this.save();
    return { user: publicUser(user), token };
  }

  /** Adds a token to an existing user (the embedded default's local user token). */
  async addUserToken(userId: string): Promise<string> {
    const user = this.state.users.find((u) => u.id === userId);
    if (!user) throw new Error(`no user ${userId}`);
    const token = newToken('lu');
    user.tokenHashes.push(hashToken(token));
    await this.save();
    return token;
  }

  async createLink(userId: string, name: string): Promise<{ link: LinkRecord; token: string }> {
    const token = newToken('ll');
    const link = { id: newId('lnk'), userId, name, createdAt: Date.now(), tokenHash: hashToken(token) };
    this.state.links.push(link);
    await this.save();
    return { link: publicLink(link), token };
  }

  async close(): Promise<void> {
    await this.writing;
  }

  private save(): Promise<void> {
    const body = JSON.stringify(this.state, null, 2);
    this.writing = this.writing.then(async () => {
      const temporary = `${this.file}.${process.pid}.tmp`;
      await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
      await writeFile(temporary, body, { mode: 0o600 });
      await rename(temporary, this.file);
    });
    return this.writing;
  }
}

function publicUser(user: FileState['users'][number]): UserRecord {
  return { id: user.id, name: user.name, createdAt: user.createdAt };
}

function publicLink(link: FileState['links'][number]): LinkRecord {
  const { tokenHash: _hidden, ...rest } = link;
  return { ...rest };
}
