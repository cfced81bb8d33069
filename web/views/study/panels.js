// The forms that open under the card: edit it, flag it as wrong, or rewrite a leech.

import { patch, post } from '../../api.js';
import { errorBox, h, replace } from '../../dom.js';
import { short } from './render.js';

export function createPanels(view) {
  const { signal, state } = view;
  const screen = () => view.screen;
  const card = () => view.screen.card();
  const busyWith = (work) => view.actions.busyWith(work);

  function close(refocus = true) {
    if (state.panel === null) return;
    state.panel = null;
    replace(screen().panelSlot);
    if (refocus) document.getElementById('card')?.focus();
  }

  function afterChange(message) {
    close(false);
    screen().renderCard();
    document.getElementById('card')?.focus();
    screen().flash(message);
  }

  function clozeEditForm(current, errors) {
    const text = h('textarea', { id: 'edit-text', rows: 4, maxlength: 2000, required: true, 'aria-describedby': 'edit-text-help' });
    text.value = current.text;
    const save = async (event) => {
      event.preventDefault();
      await busyWith(async () => {
        try {
          const saved = await patch(`/cards/${current.id}`, { text: text.value }, { signal });
          if (card() && card().id === saved.id) Object.assign(state.next.card, { front: saved.front, back: saved.back, text: saved.text });
          afterChange('Card saved, with the other cards of its text.');
        } catch (error) {
          if (error.name !== 'AbortError') replace(errors, errorBox(error.message));
        }
      });
    };
    const form = h('form', { class: 'panel', onsubmit: save, 'aria-labelledby': 'edit-title' },
      h('h2', { id: 'edit-title' }, 'Edit this cloze card'),
      h('div', { class: 'field' }, h('label', { for: 'edit-text' }, 'Text'), text),
      h('p', { id: 'edit-text-help', class: 'hint' }, 'Mark what to recall as {{c1::answer}}; each number is a card of its own, and all of them share this text.'),
      errors,
      h('div', { class: 'form-row' },
        h('button', { type: 'submit', class: 'primary' }, 'Save card'),
        h('button', { type: 'button', onclick: () => close() }, 'Cancel')));
    return { form, first: text };
  }

  function editForm(current, errors) {
    if (current.type === 'cloze') return clozeEditForm(current, errors);
    const front = h('textarea', { id: 'edit-front', rows: 3, maxlength: 2000, required: true });
    const back = h('textarea', { id: 'edit-back', rows: 4, maxlength: 5000, required: true });
    front.value = current.front;
    back.value = current.back;
    const save = async (event) => {
      event.preventDefault();
      await busyWith(async () => {
        try {
          const saved = await patch(`/cards/${current.id}`, { front: front.value, back: back.value }, { signal });
          if (card() && card().id === saved.id) Object.assign(state.next.card, { front: saved.front, back: saved.back });
          afterChange('Card saved.');
        } catch (error) {
          if (error.name !== 'AbortError') replace(errors, errorBox(error.message));
        }
      });
    };
    const form = h('form', { class: 'panel', onsubmit: save, 'aria-labelledby': 'edit-title' },
      h('h2', { id: 'edit-title' }, 'Edit this card'),
      h('div', { class: 'field' }, h('label', { for: 'edit-front' }, 'Front (question)'), front),
      h('div', { class: 'field' }, h('label', { for: 'edit-back' }, 'Back (answer)'), back),
      errors,
      h('div', { class: 'form-row' },
        h('button', { type: 'submit', class: 'primary' }, 'Save card'),
        h('button', { type: 'button', onclick: () => close() }, 'Cancel')));
    return { form, first: front };
  }

  function flagForm(current, errors) {
    const reason = h('textarea', { id: 'flag-reason', rows: 3, maxlength: 500, required: true, 'aria-describedby': 'flag-help' });
    const send = async (event) => {
      event.preventDefault();
      if (!reason.value.trim()) {
        replace(errors, errorBox('Say briefly what is wrong (1 to 500 characters).'));
        reason.focus();
        return;
      }
      await busyWith(async () => {
        try {
          const flagged = await post(`/cards/${current.id}/flag`, { reason: reason.value }, { signal });
          if (card() && card().id === flagged.id) state.next.card.flag_reason = flagged.flag_reason;
          afterChange(`Card flagged as wrong: “${short(flagged.flag_reason)}”. Thank you.`);
        } catch (error) {
          if (error.name !== 'AbortError') replace(errors, errorBox(error.message));
        }
      });
    };
    const form = h('form', { class: 'panel', onsubmit: send, 'aria-labelledby': 'flag-title' },
      h('h2', { id: 'flag-title' }, 'This card is wrong'),
      h('label', { for: 'flag-reason' }, 'What is wrong with it?'),
      h('p', { id: 'flag-help', class: 'hint' }, 'For example: the answer is incorrect, the question is ambiguous, it repeats another card.'),
      reason,
      errors,
      h('div', { class: 'form-row' },
        h('button', { type: 'submit', class: 'primary' }, 'Flag card'),
        h('button', { type: 'button', onclick: () => close() }, 'Cancel')));
    return { form, first: reason };
  }

  // A leech rewritten: the model's proposal is asked for at once, then accepted or rejected.
  let pendingRewrite = null; // {id, run}: the shown proposal's accept

  function proposalList(cards) {
    return h('ol', { class: 'proposal' }, cards.map((c) =>
      h('li', {}, h('p', { class: 'card-label' }, 'Question'), h('p', { class: 'proposal-front' }, c.front),
        h('p', { class: 'card-label' }, 'Answer'), h('p', { class: 'proposal-back' }, c.back))));
  }

  function rewritePanel(current, errors) {
    const body = h('div', { class: 'rewrite-body' }, h('p', { class: 'loading' }, 'Asking the model for a clearer card…'));
    const cancel = h('button', { type: 'button', onclick: () => close() }, 'Cancel');
    const panel = h('section', { class: 'panel', id: 'rewrite-panel', tabindex: '-1', 'aria-labelledby': 'rewrite-title', 'aria-live': 'polite' },
      h('h2', { id: 'rewrite-title' }, 'Rewrite this card'), body, errors, h('div', { class: 'form-row' }, cancel));
    const decide = (rewrite, verdict) => busyWith(async () => {
      try {
        const decision = await post(`/rewrites/${rewrite.id}/${verdict}`, undefined, { signal });
        pendingRewrite = null;
        if (verdict === 'reject') {
          afterChange('Proposal rejected: the card stays as it was.');
        } else if (rewrite.kind === 'split') {
          close(false);
          screen().flash('Card split into two new cards; the old one is retired (see the card list).');
          await view.poll.loadNext();
        } else {
          if (card() && card().id === decision.card.id) Object.assign(state.next.card, decision.card);
          afterChange('Card rewritten. Its history and schedule are kept.');
        }
      } catch (error) {
        if (error.name !== 'AbortError') replace(errors, errorBox(error.message));
      }
    });
    busyWith(async () => {
      try {
        const rewrite = await post(`/cards/${current.id}/rewrite`, undefined, { signal });
        if (state.panel !== 'rewrite') return;
        const accept = h('button', { type: 'button', class: 'primary', id: 'accept-rewrite', 'aria-keyshortcuts': 'A', onclick: () => decide(rewrite, 'accept') }, 'Accept ', h('kbd', {}, 'A'));
        const reject = h('button', { type: 'button', id: 'reject-rewrite', onclick: () => decide(rewrite, 'reject') }, 'Reject');
        pendingRewrite = { id: rewrite.id, run: () => decide(rewrite, 'accept') };
        replace(body,
          h('p', {}, rewrite.kind === 'split'
            ? 'The model suggests splitting it into two cards. Accepting retires this card and adds these two as new cards:'
            : 'The model suggests this clearer card. Accepting rewords the card and keeps its history:'),
          proposalList(rewrite.cards));
        cancel.replaceWith(h('span', { class: 'form-row' }, accept, reject));
        accept.focus();
      } catch (error) {
        if (error.name !== 'AbortError') replace(body, errorBox(`No proposal: ${error.message}`));
      }
    });
    return { form: panel, first: panel };
  }

  function acceptRewrite() {
    if (state.panel === 'rewrite' && pendingRewrite) pendingRewrite.run();
  }

  function open(kind) {
    const current = card();
    if (!current) return;
    state.panel = kind;
    pendingRewrite = null;
    const errors = h('div');
    const forms = { edit: editForm, flag: flagForm, rewrite: rewritePanel };
    const { form, first } = forms[kind](current, errors);
    replace(screen().panelSlot, form);
    first.focus();
  }

  return { open, close, acceptRewrite };
}
