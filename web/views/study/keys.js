// The study screen's keyboard: Space/Enter show the answer, 1-4 rate, U undo, E edit, F flag,
// R rewrite a leech (then A accepts), Esc closes a form. Keys typed into a field, or meant for a focused control, are left alone.

import { typingIn } from '../../dom.js';

export function bindKeys(view) {
  const { state, screen, actions, panels } = view;
  document.addEventListener('keydown', (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (event.key === 'Escape' && state.panel !== null) {
      event.preventDefault();
      panels.close();
      return;
    }
    if (typingIn(event.target)) return;
    const onControl = event.target instanceof Element && event.target.closest('button, a, summary');
    const key = event.key;
    if (key === ' ' || key === 'Enter') {
      if (onControl) return; // the focused control handles its own activation
      if (screen.card() && !state.revealed) {
        event.preventDefault();
        actions.reveal();
      }
      return;
    }
    if (event.repeat) return;
    if (['1', '2', '3', '4'].includes(key)) {
      if (!screen.card()) return;
      event.preventDefault();
      if (!state.revealed) screen.flash('Show the answer first (Space), then rate it.');
      else actions.rate(Number(key));
    } else if (key === 'u' || key === 'U') {
      event.preventDefault();
      actions.undo();
    } else if ((key === 'e' || key === 'E') && screen.card()) {
      event.preventDefault();
      panels.open('edit');
    } else if ((key === 'f' || key === 'F') && screen.card()) {
      event.preventDefault();
      panels.open('flag');
    } else if ((key === 'r' || key === 'R') && screen.card()?.leech && state.panel === null) {
      event.preventDefault();
      panels.open('rewrite');
    } else if ((key === 'a' || key === 'A') && state.panel === 'rewrite') {
      event.preventDefault();
      panels.acceptRewrite();
    }
  }, { signal: view.signal });
}
