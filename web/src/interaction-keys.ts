/**
 * The keys that answer a permission request: `y` approve, `n` deny, `a` always allow in this
 * thread. They go to the pending card that has the focus (or holds it), or else to the newest
 * pending card on the page; never while the user types (in the composer, a card's message field,
 * any input, select or editable text) and never with Ctrl, Alt or Meta held.
 */

/** What a card offers to the keys. */
export interface KeyAnswerable extends HTMLElement {
  /** When it was asked, to find the newest. */
  readonly askedAt: Date | undefined;
  answerByKey(key: 'y' | 'n' | 'a'): void;
}

const KEYS = new Set(['y', 'n', 'a']);

function typing(path: EventTarget[]): boolean {
  return path.some((node) => node instanceof HTMLElement && (node.isContentEditable || node.tagName === 'INPUT' || node.tagName === 'TEXTAREA' || node.tagName === 'SELECT'));
}

/**
 * The pending cards now on the page. A card adds itself while it is pending and connected, and
 * removes itself otherwise; the document-wide key listener is installed while there is one.
 */
class AnswerKeys {
  private readonly cards = new Map<KeyAnswerable, number>();
  private order = 0;
  private readonly onKey = (event: KeyboardEvent) => this.handle(event);

  add(card: KeyAnswerable): void {
    if (this.cards.has(card)) return;
    if (this.cards.size === 0) document.addEventListener('keydown', this.onKey);
    this.cards.set(card, ++this.order);
  }

  delete(card: KeyAnswerable): void {
    if (!this.cards.delete(card)) return;
    if (this.cards.size === 0) document.removeEventListener('keydown', this.onKey);
  }

  /** The card the keys would answer now, for an event with this composed path. */
  target(path: EventTarget[] = []): KeyAnswerable | undefined {
    const cards = [...this.cards.keys()];
    const focused = cards.find((card) => path.includes(card));
    if (focused) return focused;
    return cards.reduce<KeyAnswerable | undefined>((newest, card) => (!newest || this.newer(card, newest) ? card : newest), undefined);
  }

  private newer(a: KeyAnswerable, b: KeyAnswerable): boolean {
    const at = (a.askedAt?.getTime() ?? 0) - (b.askedAt?.getTime() ?? 0);
    return at !== 0 ? at > 0 : this.cards.get(a)! > this.cards.get(b)!;
  }

  private handle(event: KeyboardEvent): void {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    const key = event.key.toLowerCase();
    if (!KEYS.has(key) || event.key.length !== 1) return;
    const path = event.composedPath();
    if (typing(path)) return;
    const card = this.target(path);
    if (!card) return;
    event.preventDefault();
    card.answerByKey(key as 'y' | 'n' | 'a');
  }
}

/** The page's one key registry for pending permission cards. */
export const answerKeys = new AnswerKeys();
