/**
 * A thread's pins: what its first message chose (harness, link, sandbox provider, branch,
 * repository), which every later message must match or leave empty. The one comparison, used by
 * ThreadService before anything is written and by ThreadStore under the thread's row lock.
 */

/** What a thread is pinned to (null before its first message). */
export interface ThreadPins {
  harness: string | null;
  linkId: string | null;
  sandboxProvider: string | null;
  branch: string | null;
  repository: string | null;
}

/** What a message asks for; '' means "the thread's". */
export interface AskedPlace {
  harness: string;
  linkId: string;
  sandboxProvider: string;
  branch: string;
  repository: string;
}

/** The first pin a message asks to change: the field (as the API names it), its pinned and requested values. */
export interface PinConflict {
  field: 'harness' | 'link_id' | 'sandbox_provider' | 'branch' | 'repository';
  pinned: string;
  requested: string;
}

/** Undefined when `asked` fits the thread (it has no pins yet, or each asked value is empty or the pinned one). */
export function pinConflict(thread: ThreadPins, asked: AskedPlace): PinConflict | undefined {
  if (thread.harness === null) return undefined;
  const pins: [PinConflict['field'], string | null, string][] = [
    ['harness', thread.harness, asked.harness],
    ['link_id', thread.linkId, asked.linkId],
    ['sandbox_provider', thread.sandboxProvider, asked.sandboxProvider],
    ['branch', thread.branch, asked.branch],
    ['repository', thread.repository, asked.repository],
  ];
  for (const [field, pinned, requested] of pins) {
    if (requested !== '' && requested !== pinned) return { field, pinned: pinned ?? '', requested };
  }
  return undefined;
}
