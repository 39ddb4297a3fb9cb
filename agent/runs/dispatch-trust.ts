/**
 * Which dispatch key linkd trusts: only the one pinned at pairing (link.json), or a newer one its
 * endorsed chain leads to from the pin. Never the key a session merely announces.
 *
 *   Welcome(key, chain) ─▶ forSession ─▶ same as pin ─────────────▶ verify with the pin
 *                                     ├▶ chain verifies from pin ─▶ move pin, onKeyMoved saves it
 *                                     └▶ anything else ───────────▶ none: every dispatch refused
 */
import type { KeyObject } from 'node:crypto';
import { ed25519PublicKey, followKeyChain, type KeyEndorsement } from '../../common/dispatch.js';
import type { Logger } from '../../common/log.js';

/** Whether linkd can verify dispatches: `pinned`, or why it refuses them all. */
export type DispatchKeyState =
  | { state: 'pinned' }
  | { state: 'missing'; message: string }
  | { state: 'mismatch'; message: string };

/** What linkd tells the user when it has no key pinned. */
export const NO_KEY_MESSAGE =
  'this machine has no dispatch key pinned at pairing (link.json beside the token is missing or has none), so it refuses every run; pair it again: open the web page, "Connect a machine", and run `linkd login --code …`';

export class DispatchTrust {
  private pinned: Uint8Array | undefined;
  /** As of the last Welcome (or the start, before any). */
  state: DispatchKeyState;

  /**
   * `pinned`: the raw key from link.json (anything but 32 bytes counts as none). `onKeyMoved` is
   * called when a verified chain moved the pin; the caller saves it, atomically.
   */
  constructor(
    pinned: Uint8Array | undefined,
    private readonly log: Logger,
    private readonly onKeyMoved?: (key: Uint8Array) => Promise<void>,
  ) {
    this.pinned = pinned?.length === 32 ? pinned : undefined;
    this.state = this.pinned ? { state: 'pinned' } : { state: 'missing', message: NO_KEY_MESSAGE };
  }

  /**
   * The key to verify a session's dispatches with, from what its Welcome announced; undefined (and
   * an error logged, `state` saying why) when there is none to trust.
   */
  forSession(announced: Uint8Array, chain: readonly KeyEndorsement[]): KeyObject | undefined {
    if (!this.pinned) {
      this.log.error(NO_KEY_MESSAGE);
      return undefined;
    }
    const result = followKeyChain(this.pinned, announced, chain);
    if (!result.ok) return this.refuse(result.message);
    let key: KeyObject;
    try {
      key = ed25519PublicKey(result.key);
    } catch {
      return this.refuse('the server announced a dispatch key that is not an Ed25519 key; this machine refuses its runs');
    }
    if (result.moved) {
      this.pinned = result.key;
      this.log.info({ steps: chain.length }, "the control plane's dispatch key was rotated: following its endorsed chain to the new key");
      void this.onKeyMoved?.(result.key).catch((error) =>
        this.log.error({ err: error }, 'cannot save the new dispatch key; it is trusted for now and the chain is checked again next start'),
      );
    }
    this.state = { state: 'pinned' };
    return key;
  }

  private refuse(message: string): undefined {
    this.state = { state: 'mismatch', message };
    this.log.error(message);
    return undefined;
  }
}
