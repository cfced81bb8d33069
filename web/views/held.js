// The verification pass on a topic's page: its switch, and the cards it held back, each with
// its reason and a Restore button that puts the card into study.

import { get, patch, post } from '../api.js';
import { announce, errorBox, h, replace } from '../dom.js';

const REFRESH_MS = 3000;
// The verdict labels (srs.generation.verdicts.VerdictLabel), as the learner reads them.
const LABEL_TEXT = {
  wrong: 'wrong',
  ambiguous: 'ambiguous',
  not_one_fact: 'more than one fact',
  unsupported: 'not supported by its passage',
  unchecked: 'not checked',
  unsure: 'the model was unsure',
};

function heldItem(item, restore) {
  const button = h('button', { type: 'button', class: 'restore' }, 'Restore',
    h('span', { class: 'visually-hidden' }, ` “${item.front}”`));
  button.addEventListener('click', () => restore(item, button));
  return h('li', { class: `held held-${item.label}`, 'data-id': item.id },
    h('p', { class: 'held-front' }, h('strong', {}, item.text || item.front)),
    item.text ? null : h('p', { class: 'held-back-text' }, item.back),
    h('p', { class: 'held-reason' },
      h('span', { class: 'badge' }, LABEL_TEXT[item.label] || item.label), ' ', item.reason),
    item.source ? h('p', { class: 'hint' }, `cites: “${item.source.quote}”`) : null,
    button);
}

/** The topic's verification switch and held-back cards; `onRestored` runs after a restore. */
export function heldSection(ctx, topicId, onRestored) {
  const { signal } = ctx;
  const list = h('ul', { class: 'held-list', id: 'held-list' });
  const notice = h('div', { id: 'check-notice' });
  const errors = h('div');
  const toggle = h('input', { type: 'checkbox', id: 'verify-cards' });
  const summaryCount = h('span', { class: 'held-count' });

  async function refresh() {
    try {
      const [topic, held] = await Promise.all([
        get(`/topics/${topicId}`, { signal }),
        get(`/topics/${topicId}/held-back`, { signal }),
      ]);
      toggle.checked = topic.verify_cards;
      replace(notice, held.check_notice ? h('p', { class: 'notice weak-check', role: 'note' }, held.check_notice) : null);
      replace(summaryCount, held.items.length ? ` (${held.items.length})` : '');
      replace(list, held.items.length === 0
        ? h('li', { class: 'empty' }, 'No card is held back.')
        : held.items.map((item) => heldItem(item, restore)));
    } catch (error) {
      if (error.name !== 'AbortError') replace(errors, errorBox(error.message));
    }
  }

  async function restore(item, button) {
    replace(errors);
    button.disabled = true;
    try {
      await post(`/held-back/${item.id}/restore`, undefined, { signal });
      announce(`“${item.front}” restored: it joins your cards to study.`);
      await refresh();
      onRestored?.();
    } catch (error) {
      button.disabled = false;
      if (error.name !== 'AbortError') replace(errors, errorBox(error.message));
    }
  }

  toggle.addEventListener('change', async () => {
    replace(errors);
    try {
      const saved = await patch(`/topics/${topicId}`, { verify_cards: toggle.checked }, { signal });
      announce(saved.verify_cards ? 'New cards are checked before you see them.' : 'New cards are no longer checked.');
    } catch (error) {
      toggle.checked = !toggle.checked;
      if (error.name !== 'AbortError') replace(errors, errorBox(error.message));
    }
  });

  const details = h('details', { class: 'held-back', id: 'held-back' },
    h('summary', {}, h('h2', {}, 'Held back by the check', summaryCount)),
    h('div', { class: 'check' }, toggle,
      h('label', { for: 'verify-cards' }, 'Check each new card with a second opinion before showing it')),
    h('p', { class: 'hint' }, 'On by default for a topic made from your own material. A card judged wrong, ambiguous, '
      + 'more than one fact, or not supported by its passage waits here instead of in your study queue, and is not billed.'),
    notice,
    list,
    errors);
  // While open, the list follows the batches being checked.
  let timer = 0;
  details.addEventListener('toggle', () => {
    clearInterval(timer);
    if (!details.open) return;
    refresh();
    timer = setInterval(refresh, REFRESH_MS);
  });
  signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  refresh();
  return details;
}
