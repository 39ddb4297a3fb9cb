import { expect } from '@open-wc/testing';
import { shortcutFor } from '../src/shortcuts.js';

/** The action a key pressed on `target` asks for. */
function press(key: string, target: HTMLElement, init: KeyboardEventInit = {}) {
  let action: string | undefined;
  const listener = (event: KeyboardEvent) => (action = shortcutFor(event));
  document.addEventListener('keydown', listener, { once: true });
  target.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true, composed: true, ...init }));
  document.removeEventListener('keydown', listener);
  return action;
}

describe('keyboard shortcuts', () => {
  it('act on single keys outside text fields, never while typing or with a modifier', () => {
    const button = document.createElement('button');
    const input = document.createElement('input');
    const textarea = document.createElement('textarea');
    document.body.append(button, input, textarea);
    expect(press('c', button)).to.equal('new-thread');
    expect(press('j', document.body)).to.equal('next-thread');
    expect(press('?', document.body)).to.equal('help');
    expect(press('s', document.body)).to.equal('stop-run');
    expect(press('c', input)).to.equal(undefined, 'typing in an input');
    expect(press('j', textarea)).to.equal(undefined, 'typing in the message box');
    expect(press('c', document.body, { ctrlKey: true })).to.equal(undefined, 'the browser\'s own shortcut');
    expect(press('y', document.body)).to.equal(undefined, 'an approval card\'s key is not the page\'s');
    button.remove();
    input.remove();
    textarea.remove();
  });
});
