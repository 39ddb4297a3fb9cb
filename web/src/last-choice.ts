/**
 * The composer's last choice (agent, tier, explicit model, machine) per user, so a new thread
 * starts where the previous one did. Kept in this browser's localStorage under the user's id: it is
 * a convenience, not an account setting, so another browser starts from the default (the first
 * agent that can run on the machine).
 */
import { createContext } from '@lit/context';
import { ModelTier } from '../../gen/link/v1/run_pb.js';
import type { User } from '../../gen/link/v1/user_service_pb.js';

export interface LastChoice {
  harness: string;
  tier: ModelTier;
  model: string;
  linkId: string;
}

/** The logged-in user, provided by the app (the composer keys the last choice by it). */
export const userContext = createContext<User | undefined>(Symbol('link-user'));

const key = (userId: string) => `link.last-choice.${userId}`;

/** The user's last choice in this browser, or undefined (none yet, or unreadable). */
export function lastChoice(userId: string | undefined): LastChoice | undefined {
  if (!userId) return undefined;
  try {
    const value = JSON.parse(localStorage.getItem(key(userId)) ?? 'null') as Partial<LastChoice> | null;
    if (!value || typeof value.harness !== 'string') return undefined;
    return {
      harness: value.harness,
      tier: typeof value.tier === 'number' && value.tier in ModelTier ? value.tier : ModelTier.UNSPECIFIED,
      model: typeof value.model === 'string' ? value.model : '',
      linkId: typeof value.linkId === 'string' ? value.linkId : '',
    };
  } catch {
    return undefined;
  }
}

export function rememberChoice(userId: string | undefined, choice: LastChoice): void {
  if (!userId) return;
  try {
    localStorage.setItem(key(userId), JSON.stringify(choice));
  } catch {
    // Storage refused: the next thread starts from the default.
  }
}
