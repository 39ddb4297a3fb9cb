/**
 * The page's keyboard shortcuts: one list, read by the app (which acts on them) and by the `?`
 * help overlay (which lists them). Single keys act only when no text field has the focus, and never
 * with Ctrl, Alt or Meta held, so typing and the browser's own shortcuts are untouched.
 */

/** What a shortcut does; the app has one action for each. */
export type ShortcutAction = 'new-thread' | 'focus-composer' | 'next-thread' | 'previous-thread' | 'search' | 'stop-run' | 'help';

export interface Shortcut {
  /** `KeyboardEvent.key` values that trigger it. */
  keys: readonly string[];
  action: ShortcutAction | null;
  /** What the overlay says it does. */
  label: string;
}

export const SHORTCUTS: readonly Shortcut[] = [
  { keys: ['c'], action: 'new-thread', label: 'New thread' },
  { keys: ['i'], action: 'focus-composer', label: 'Write a message (focus the message box)' },
  { keys: ['j'], action: 'next-thread', label: 'Next thread' },
  { keys: ['k'], action: 'previous-thread', label: 'Previous thread' },
  { keys: ['/'], action: 'search', label: 'Search threads' },
  { keys: ['s'], action: 'stop-run', label: 'Stop the running run' },
  { keys: ['?'], action: 'help', label: 'Show these shortcuts' },
];

/** Keys handled where they apply, listed in the overlay too. */
export const OTHER_KEYS: readonly Shortcut[] = [
  { keys: ['Enter'], action: null, label: 'Send the message (in the message box)' },
  { keys: ['Shift', 'Enter'], action: null, label: 'New line (in the message box)' },
  { keys: ['Escape'], action: null, label: 'Close a menu, popover or dialog; leave a text field' },
  { keys: ['y'], action: null, label: 'Approve (on an approval card)' },
  { keys: ['n'], action: null, label: 'Deny (on an approval card)' },
  { keys: ['a'], action: null, label: 'Always allow (on an approval card)' },
];

/** The action `event` asks for, or undefined when it is typing or belongs to someone else. */
export function shortcutFor(event: KeyboardEvent): ShortcutAction | undefined {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return undefined;
  if (isTyping(event)) return undefined;
  return SHORTCUTS.find((s) => s.keys.includes(event.key))?.action ?? undefined;
}

/** Whether the event's real target (inside shadow roots too) takes text. */
function isTyping(event: Event): boolean {
  const target = event.composedPath()[0];
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  return target instanceof HTMLInputElement && !['checkbox', 'radio', 'button', 'submit'].includes(target.type);
}
