/**
 * Light and dark: the page follows the system's `prefers-color-scheme` unless the user picked one
 * with the header's toggle (kept in this browser's localStorage). The colours are CSS custom
 * properties on the document (`web/index.html`); every element reads them with its light colour as
 * the fallback, so an element shown on its own (a component test) looks as before.
 */

export type ThemeChoice = 'system' | 'light' | 'dark';

const KEY = 'link.theme';
const ORDER: readonly ThemeChoice[] = ['system', 'dark', 'light'];

export function storedTheme(): ThemeChoice {
  try {
    const value = localStorage.getItem(KEY);
    return value === 'light' || value === 'dark' ? value : 'system';
  } catch {
    return 'system';
  }
}

/** Applies `choice` to the document (its `data-theme`, which the custom properties follow) and keeps it. */
export function applyTheme(choice: ThemeChoice): void {
  if (choice === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = choice;
  try {
    if (choice === 'system') localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, choice);
  } catch {
    // Storage refused (private mode): the choice lasts for this page only.
  }
}

/** The toggle's next choice: system → dark → light → system. */
export function nextTheme(choice: ThemeChoice): ThemeChoice {
  return ORDER[(ORDER.indexOf(choice) + 1) % ORDER.length];
}

/** Whether the page is dark now (the choice, or the system's preference). */
export function isDark(choice: ThemeChoice): boolean {
  return choice === 'dark' || (choice === 'system' && window.matchMedia('(prefers-color-scheme: dark)').matches);
}
