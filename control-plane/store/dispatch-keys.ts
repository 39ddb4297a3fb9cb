/**
 * The dispatch signing key at rest: its private half is sealed with AES-256-GCM under a 32-byte
 * secret kept in a key file outside the database, so a database backup alone cannot sign a
 * DispatchRun. The key file is one line of base64, 0600.
 *
 *   sealed = "LKS1" ‖ iv (12) ‖ tag (16) ‖ ciphertext      aad = "link-dispatch-key\n<generation>\n<public key hex>"
 *
 * A plaintext PKCS#8 DER (from before sealing) starts with 0x30 and is told apart by the magic.
 */
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Sql } from 'postgres';
import { endorseKey, rawPublicKey } from '../../common/dispatch.js';
import { writeFileAtomically } from '../../common/files.js';
import type { Logger } from '../../common/log.js';
import type { DispatchKeySet } from './store.js';

const MAGIC = Buffer.from('LKS1');
const SECRET_BYTES = 32;

/** The key file does not open the sealed key: it is not the file the key was sealed with. */
export class KeyFileMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyFileMismatchError';
  }
}

/** Whether a stored private key is sealed (else it is a plaintext DER from before sealing). */
export function isSealed(stored: Uint8Array): boolean {
  return stored.length > MAGIC.length && Buffer.from(stored.subarray(0, MAGIC.length)).equals(MAGIC);
}

function aad(generation: number, publicKey: Uint8Array): Buffer {
  return Buffer.from(`link-dispatch-key\n${generation}\n${Buffer.from(publicKey).toString('hex')}`);
}

/** Seals a private key (DER) of `generation` with `secret`; bound to its generation and public key. */
export function sealPrivateKey(secret: Buffer, generation: number, publicKey: Uint8Array, der: Buffer): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', secret, iv);
  cipher.setAAD(aad(generation, publicKey));
  const body = Buffer.concat([cipher.update(der), cipher.final()]);
  return Buffer.concat([MAGIC, iv, cipher.getAuthTag(), body]);
}

/** Opens a sealed private key; throws KeyFileMismatchError when `secret` is not the one it was sealed with. */
export function openPrivateKey(secret: Buffer, generation: number, publicKey: Uint8Array, sealed: Uint8Array): Buffer {
  const blob = Buffer.from(sealed);
  const iv = blob.subarray(4, 16);
  const tag = blob.subarray(16, 32);
  try {
    const decipher = createDecipheriv('aes-256-gcm', secret, iv);
    decipher.setAAD(aad(generation, publicKey));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(blob.subarray(32)), decipher.final()]);
  } catch (cause) {
    throw new KeyFileMismatchError(`the dispatch signing key (generation ${generation}) does not open with this key file: ${(cause as Error).message}`);
  }
}

/**
 * The secret in `file`, or undefined when there is no such file. Throws when the file is there but
 * is not a key file (so a wrong path never passes for a new, empty key).
 */
export async function readKeyFile(file: string): Promise<Buffer | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read the key file ${file}: ${(error as Error).message}`);
  }
  const secret = Buffer.from(text.trim(), 'base64');
  if (secret.length !== SECRET_BYTES || secret.toString('base64') !== text.trim()) {
    throw new Error(`${file} is not a key file (one line of base64, ${SECRET_BYTES} bytes)`);
  }
  return secret;
}

/** Makes a new key file (0600, atomically) with a random secret, and returns the secret. */
export async function createKeyFile(file: string): Promise<Buffer> {
  const secret = randomBytes(SECRET_BYTES);
  await writeFileAtomically(file, `${secret.toString('base64')}\n`);
  return secret;
}

interface KeyRow {
  generation: number;
  public_key: Buffer;
  private_key: Buffer;
  endorsement: Buffer | null;
}

/**
 * The signing key in use and its chain, from `dispatch_keys` (the first key is made here when there
 * is none). A plaintext key from before sealing is sealed in place. Throws KeyFileMismatchError when
 * `secret` does not open the key in use.
 */
export async function loadDispatchKeys(sql: Sql, secret: Buffer, log: Logger): Promise<DispatchKeySet> {
  const fresh = generateKeyPairSync('ed25519');
  const raw = rawPublicKey(fresh.publicKey);
  // Whichever replica wins, everyone reads the same first key.
  await sql`insert into dispatch_keys (generation, public_key, private_key)
            values (1, ${raw}, ${sealPrivateKey(secret, 1, raw, fresh.privateKey.export({ format: 'der', type: 'pkcs8' }))})
            on conflict do nothing`;
  const rows = await sql<KeyRow[]>`select generation, public_key, private_key, endorsement from dispatch_keys order by generation`;
  const current = rows[rows.length - 1];
  let der: Buffer;
  if (isSealed(current.private_key)) {
    der = openPrivateKey(secret, current.generation, current.public_key, current.private_key);
  } else {
    // Stored before sealing: seal it where it is (compare-and-set, so replicas agree on one row).
    der = Buffer.from(current.private_key);
    const sealed = sealPrivateKey(secret, current.generation, current.public_key, der);
    const updated = await sql`update dispatch_keys set private_key = ${sealed}
                              where generation = ${current.generation} and private_key = ${current.private_key}`;
    if (updated.count !== 1) return loadDispatchKeys(sql, secret, log);
    log.info({ generation: current.generation }, 'sealed the plaintext dispatch signing key with the key file');
  }
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  if (!rawPublicKey(createPublicKey(privateKey)).equals(Buffer.from(current.public_key))) {
    throw new KeyFileMismatchError(`the stored dispatch signing key (generation ${current.generation}) does not match its public key`);
  }
  return {
    publicKey: Buffer.from(current.public_key),
    privateKey,
    chain: rows.map((row) => ({ publicKey: Buffer.from(row.public_key), endorsement: Buffer.from(row.endorsement ?? []) })),
  };
}

/**
 * Makes the next signing key, endorsed by the current one, and erases the retired keys' private
 * halves. A concurrent rotation fails on the primary key instead of forking the chain.
 */
export async function rotateDispatchKey(sql: Sql, secret: Buffer, log: Logger): Promise<DispatchKeySet> {
  const current = await loadDispatchKeys(sql, secret, log);
  const generation = current.chain.length + 1;
  const next = generateKeyPairSync('ed25519');
  const raw = rawPublicKey(next.publicKey);
  const sealed = sealPrivateKey(secret, generation, raw, next.privateKey.export({ format: 'der', type: 'pkcs8' }));
  await sql.begin(async (tx) => {
    await tx`insert into dispatch_keys (generation, public_key, private_key, endorsement)
             values (${generation}, ${raw}, ${sealed}, ${endorseKey(raw, current.privateKey)})`;
    await tx`update dispatch_keys set private_key = ${Buffer.alloc(0)} where generation < ${generation}`;
  });
  log.info({ generation }, 'the dispatch signing key was rotated');
  return loadDispatchKeys(sql, secret, log);
}
