// The card browser, across topics (#/cards) or in one (#/topics/{id}/cards): search, a state
// filter, paging ("Load more"), inline edit, add, and bulk suspend, unsuspend and delete.

import { del, get, getAll, pagePath, patch, post } from '../api.js';
import { announce, errorBox, h, replace, typingIn } from '../dom.js';
import { until } from '../format.js';

const PAGE_SIZE = 50;
const SEARCH_DELAY_MS = 300;
const STATES = [
  ['', 'All states'],
  ['new', 'New'],
  ['learning', 'Learning'],
  ['review', 'Review'],
  ['suspended', 'Suspended'],
  ['flagged', 'Flagged'],
];

function short(text, max = 60) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function dueText(card) {
  if (card.state === 'new') return 'not studied yet';
  const ms = Date.parse(card.due) - Date.now();
  return ms <= 0 ? 'due now' : `due in ${until(card.due)}`;
}

export function cardsView(ctx, topicId) {
  const { signal } = ctx;
  const oneTopic = topicId !== undefined;
  const state = {
    cards: [], // the rows shown, in the server's order
    cursor: null,
    selected: new Set(),
    topics: new Map(), // id -> title
    query: 0, // bumped by each new search, so a stale answer is dropped
    changes: 0, // bumped by each change the learner makes, so a list read before it is read again
    editing: null, // {id, row}: the card whose edit form is open; a redraw keeps the form
  };

  // -- the fixed parts of the page ------------------------------------------------------------
  const title = h('h1', { id: 'cards-title' }, oneTopic ? 'Cards' : 'All cards');
  const search = h('input', {
    id: 'card-search', type: 'search', name: 'q', maxlength: 200, autocomplete: 'off',
    placeholder: 'Words on the front or back', 'aria-keyshortcuts': '/',
  });
  const stateSelect = h('select', { id: 'card-state', name: 'state' },
    STATES.map(([value, label]) => h('option', { value }, label)));
  const topicSelect = oneTopic ? null : h('select', { id: 'card-topic', name: 'topic' },
    h('option', { value: '' }, 'All topics'));
  const filters = h('form', { class: 'filters card-filters', role: 'search', 'aria-label': 'Find cards', onsubmit: (event) => { event.preventDefault(); reload(); } },
    h('div', { class: 'field grow' }, h('label', { for: 'card-search' }, 'Search'), search),
    h('div', { class: 'field' }, h('label', { for: 'card-state' }, 'State'), stateSelect),
    topicSelect ? h('div', { class: 'field' }, h('label', { for: 'card-topic' }, 'Topic'), topicSelect) : null,
    h('p', { class: 'hint filters-hint' }, 'Press ', h('kbd', {}, '/'), ' to search from anywhere on this page; ',
      h('kbd', {}, 'Esc'), ' leaves a card you are editing.'));

  const alerts = h('div', { class: 'alerts' });
  const selectAll = h('input', { type: 'checkbox', id: 'select-all' });
  const selectedCount = h('span', { id: 'selected-count', class: 'hint', 'aria-live': 'polite' }, 'None selected');
  const bulkButtons = [
    h('button', { type: 'button', 'data-action': 'suspend', onclick: () => bulk('suspend') }, 'Suspend selected'),
    h('button', { type: 'button', 'data-action': 'unsuspend', onclick: () => bulk('unsuspend') }, 'Unsuspend selected'),
    h('button', { type: 'button', 'data-action': 'delete', onclick: askBulkDelete }, 'Delete selected…'),
  ];
  const bulkConfirm = h('div', { class: 'confirm-slot' });
  const bulkBar = h('div', { class: 'bulk-bar', role: 'group', 'aria-label': 'Selected cards' },
    h('div', { class: 'check' }, selectAll, h('label', { for: 'select-all' }, 'Select all shown')),
    selectedCount,
    h('div', { class: 'bulk-actions' }, bulkButtons),
    bulkConfirm);
  const list = h('ul', { class: 'card-list', id: 'card-list', 'aria-labelledby': 'cards-title' });
  const status = h('p', { class: 'hint', id: 'cards-status', role: 'status' }, 'Loading cards…');
  const moreButton = h('button', { type: 'button', class: 'load-more', id: 'load-more', onclick: loadMore }, 'Load more');
  moreButton.hidden = true;
  const addSlot = h('div');

  // -- loading --------------------------------------------------------------------------------
  function listPath(cursor) {
    const params = new URLSearchParams();
    const text = search.value.trim();
    if (text) params.set('q', text);
    if (stateSelect.value) params.set('state', stateSelect.value);
    if (!oneTopic && topicSelect.value) params.set('topic_id', topicSelect.value);
    const base = oneTopic ? `/topics/${topicId}/cards` : '/cards';
    const query = params.toString();
    return pagePath(query ? `${base}?${query}` : base, { limit: PAGE_SIZE, cursor });
  }

  async function fetchPage(cursor) {
    const mine = ++state.query;
    const page = await get(listPath(cursor), { signal });
    return mine === state.query ? page : null;
  }

  async function reload() {
    clearTimeout(searchTimer);
    replace(alerts);
    list.setAttribute('aria-busy', 'true');
    try {
      const changes = state.changes;
      const page = await fetchPage(null);
      if (!page) return;
      if (changes !== state.changes) return reload(); // it may show a card as it was before
      state.cards = page.items;
      state.cursor = page.next_cursor;
      // Only cards on screen stay selected: a bulk action never touches one out of sight.
      state.selected = new Set(page.items.filter((c) => state.selected.has(c.id)).map((c) => c.id));
      drawList();
    } catch (error) {
      if (error.name !== 'AbortError') replace(alerts, errorBox(`Could not load the cards: ${error.message}`));
    } finally {
      list.setAttribute('aria-busy', 'false');
    }
  }

  async function loadMore() {
    if (!state.cursor) return;
    moreButton.disabled = true;
    try {
      const page = await fetchPage(state.cursor);
      if (!page) return;
      const firstNew = page.items[0];
      state.cards.push(...page.items);
      state.cursor = page.next_cursor;
      for (const card of page.items) list.append(cardRow(card));
      drawStatus();
      // Keyboard users continue where the new cards start.
      if (firstNew) list.querySelector(`li[data-id="${firstNew.id}"] input[type=checkbox]`)?.focus();
    } catch (error) {
      if (error.name !== 'AbortError') replace(alerts, errorBox(`Could not load more cards: ${error.message}`));
    } finally {
      moreButton.disabled = false;
    }
  }

  // -- drawing ---------------------------------------------------------------------------------
  function drawStatus() {
    const shown = state.cards.length;
    const filtered = search.value.trim() || stateSelect.value || (topicSelect && topicSelect.value);
    status.textContent = shown === 0
      ? (filtered ? 'No cards match.' : 'No cards yet.')
      : `Showing ${shown} card${shown === 1 ? '' : 's'}${state.cursor ? ' (more below)' : ''}.`;
    moreButton.hidden = !state.cursor;
    drawSelection();
  }

  function drawSelection() {
    const count = state.selected.size;
    selectedCount.textContent = count === 0 ? 'None selected' : `${count} selected`;
    for (const button of bulkButtons) button.disabled = count === 0;
    selectAll.checked = count > 0 && count === state.cards.length;
    selectAll.indeterminate = count > 0 && count < state.cards.length;
    if (count === 0) replace(bulkConfirm);
  }

  function drawList() {
    const editing = state.editing;
    replace(list, state.cards.map((card) => (editing && editing.id === card.id ? editing.row : cardRow(card))));
    if (editing && !list.contains(editing.row)) state.editing = null;
    drawStatus();
  }

  function redrawRow(card) {
    const index = state.cards.findIndex((c) => c.id === card.id);
    if (index >= 0) state.cards[index] = card;
    list.querySelector(`li[data-id="${card.id}"]`)?.replaceWith(cardRow(card));
  }

  function removeRows(ids) {
    const gone = new Set(ids);
    state.cards = state.cards.filter((c) => !gone.has(c.id));
    for (const id of ids) {
      state.selected.delete(id);
      list.querySelector(`li[data-id="${id}"]`)?.remove();
    }
    drawStatus();
  }

  function cardRow(card) {
    const box = h('input', { type: 'checkbox', id: `select-${card.id}`, class: 'select-card' });
    box.checked = state.selected.has(card.id);
    box.addEventListener('change', () => {
      if (box.checked) state.selected.add(card.id);
      else state.selected.delete(card.id);
      drawSelection();
    });
    const marks = [
      h('span', { class: `badge state-${card.state}` }, card.state),
      card.suspended ? h('span', { class: 'badge badge-suspended' }, 'suspended') : null,
      card.flag_reason ? h('span', { class: 'badge badge-flagged', title: card.flag_reason }, 'flagged') : null,
      card.leech ? h('span', { class: 'badge badge-leech', title: 'failed 4 or more times: rewrite it from the study screen' }, 'leech') : null,
    ];
    const which = `“${short(card.front)}”`;
    const actionsSlot = h('div', { class: 'row-actions' },
      h('button', { type: 'button', 'aria-label': `Edit ${which}`, onclick: () => edit(card) }, 'Edit'),
      card.suspended
        ? h('button', { type: 'button', 'aria-label': `Unsuspend ${which}`, onclick: () => setSuspended(card, false) }, 'Unsuspend')
        : h('button', { type: 'button', 'aria-label': `Suspend ${which}`, onclick: () => setSuspended(card, true) }, 'Suspend'),
      h('button', { type: 'button', 'aria-label': `Delete ${which}…`, onclick: () => askDelete(card, actionsSlot) }, 'Delete…'));
    return h('li', { class: `card-row${card.suspended ? ' is-suspended' : ''}`, 'data-id': card.id },
      h('div', { class: 'row-select' }, box,
        h('label', { for: `select-${card.id}`, class: 'visually-hidden' }, `Select “${short(card.front)}”`)),
      h('div', { class: 'row-body' },
        h('p', { class: 'row-front' }, card.front),
        h('p', { class: 'row-back' }, card.back),
        h('p', { class: 'row-meta' }, marks, ' ', dueText(card),
          oneTopic ? null : [' · ', h('a', { href: `#/topics/${card.topic_id}/cards` }, state.topics.get(card.topic_id) || `topic ${card.topic_id}`)]),
        card.flag_reason ? h('p', { class: 'flagged-note' }, `Flagged: ${card.flag_reason}`) : null,
        card.retired_reason ? h('p', { class: 'retired-note' }, `Retired: ${card.retired_reason}`) : null),
      actionsSlot);
  }

  // -- one card -------------------------------------------------------------------------------
  async function setSuspended(card, suspended) {
    replace(alerts);
    try {
      const saved = await post(`/cards/${card.id}/${suspended ? 'suspend' : 'unsuspend'}`, undefined, { signal });
      state.changes += 1;
      redrawRow(saved);
      list.querySelector(`li[data-id="${card.id}"] .row-actions button:nth-child(2)`)?.focus();
      announce(`${suspended ? 'Suspended' : 'Unsuspended'}: “${short(saved.front)}”.`);
    } catch (error) {
      if (error.name !== 'AbortError') replace(alerts, errorBox(`Could not change the card: ${error.message}`));
    }
  }

  function askDelete(card, slot) {
    const keep = [...slot.childNodes];
    const cancel = () => { replace(slot, keep); keep[2].focus(); };
    const confirmButton = h('button', { type: 'button', class: 'danger', onclick: async () => {
      try {
        await del(`/cards/${card.id}`, { signal });
        state.changes += 1;
        const next = list.querySelector(`li[data-id="${card.id}"]`)?.nextElementSibling;
        removeRows([card.id]);
        announce(`Deleted: “${short(card.front)}”.`);
        (next?.querySelector('input') || search).focus();
      } catch (error) {
        if (error.name !== 'AbortError') replace(alerts, errorBox(`Could not delete the card: ${error.message}`));
      }
    } }, 'Yes, delete');
    replace(slot, h('span', { class: 'confirm-inline' }, 'Delete this card for good?'),
      confirmButton, h('button', { type: 'button', onclick: cancel }, 'Cancel'));
    confirmButton.focus();
  }

  function edit(card) {
    if (card.type === 'cloze') return editCloze(card);
    const front = h('textarea', { id: `edit-front-${card.id}`, rows: 2, maxlength: 2000, required: true });
    const back = h('textarea', { id: `edit-back-${card.id}`, rows: 3, maxlength: 5000, required: true });
    front.value = card.front;
    back.value = card.back;
    editRow(card, [
      h('div', { class: 'field' }, h('label', { for: `edit-front-${card.id}` }, 'Front (question)'), front),
      h('div', { class: 'field' }, h('label', { for: `edit-back-${card.id}` }, 'Back (answer)'), back),
    ], front, async () => {
      const saved = await patch(`/cards/${card.id}`, { front: front.value, back: back.value }, { signal });
      const index = state.cards.findIndex((c) => c.id === card.id);
      if (index >= 0) state.cards[index] = saved;
      announce('Card saved.');
    });
  }

  // A cloze card's text is its note's, shared with its other cards: all of them are redrawn.
  function editCloze(card) {
    const text = h('textarea', { id: `edit-text-${card.id}`, rows: 3, maxlength: 2000, required: true, 'aria-describedby': `edit-text-help-${card.id}` });
    text.value = card.text;
    editRow(card, [
      h('div', { class: 'field' }, h('label', { for: `edit-text-${card.id}` }, 'Cloze text'), text),
      h('p', { id: `edit-text-help-${card.id}`, class: 'hint' }, 'Mark what to recall as {{c1::answer}}; each number is a card of its own.'),
    ], text, async () => {
      await patch(`/cards/${card.id}`, { text: text.value }, { signal });
      await reload();
      announce('Card saved, with the other cards of its text.');
    });
  }

  /** Swap a card's row for an edit form of `fields`; `store` saves it (and redraws what it must). */
  function editRow(card, fields, first, store) {
    const row = list.querySelector(`li[data-id="${card.id}"]`);
    if (!row) return;
    const errors = h('div');
    const close = () => {
      state.editing = null;
      const shown = list.querySelector(`li[data-id="${card.id}"]`);
      const fresh = cardRow(state.cards.find((c) => c.id === card.id) || card);
      (shown || formRow).replaceWith(fresh);
      fresh.querySelector('.row-actions button')?.focus();
    };
    const save = async (event) => {
      event.preventDefault();
      try {
        state.changes += 1;
        await store();
        close();
      } catch (error) {
        state.changes -= 1;
        if (error.name !== 'AbortError') replace(errors, errorBox(error.message));
      }
    };
    const formRow = h('li', { class: 'card-row editing', 'data-id': card.id },
      h('form', { class: 'row-edit', onsubmit: save, 'aria-label': `Edit “${short(card.front)}”` },
        ...fields,
        errors,
        h('div', { class: 'form-row start' },
          h('button', { type: 'submit', class: 'primary' }, 'Save'),
          h('button', { type: 'button', onclick: close }, 'Cancel'))));
    formRow.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        close();
      }
    });
    row.replaceWith(formRow);
    state.editing = { id: card.id, row: formRow };
    first.focus();
  }

  // -- several cards ----------------------------------------------------------------------------
  function askBulkDelete() {
    const count = state.selected.size;
    if (count === 0) return;
    const confirmButton = h('button', { type: 'button', class: 'danger', onclick: () => bulk('delete') },
      `Delete ${count} card${count === 1 ? '' : 's'}`);
    replace(bulkConfirm, h('div', { class: 'confirm', role: 'group', 'aria-label': 'Confirm deletion' },
      h('p', {}, `Delete ${count} selected card${count === 1 ? '' : 's'} and their review history? This cannot be undone.`),
      h('div', { class: 'form-row start' }, confirmButton,
        h('button', { type: 'button', onclick: () => { replace(bulkConfirm); bulkButtons[2].focus(); } }, 'Cancel'))));
    confirmButton.focus();
  }

  async function bulk(action) {
    const ids = [...state.selected];
    if (ids.length === 0) return;
    replace(alerts);
    try {
      const { count } = await post('/cards/bulk', { ids, action }, { signal });
      state.changes += 1;
      if (action === 'delete') {
        removeRows(ids);
        search.focus();
      } else {
        for (const card of state.cards) {
          if (state.selected.has(card.id)) redrawRow({ ...card, suspended: action === 'suspend' });
        }
        drawSelection();
      }
      const verb = { suspend: 'Suspended', unsuspend: 'Unsuspended', delete: 'Deleted' }[action];
      announce(`${verb} ${count} card${count === 1 ? '' : 's'}.`);
      replace(alerts, h('p', { class: 'flash', role: 'status' }, `${verb} ${count} card${count === 1 ? '' : 's'}.`));
    } catch (error) {
      if (error.name !== 'AbortError') replace(alerts, errorBox(`Nothing was changed: ${error.message}`));
    }
  }

  selectAll.addEventListener('change', () => {
    state.selected = new Set(selectAll.checked ? state.cards.map((c) => c.id) : []);
    for (const box of list.querySelectorAll('input.select-card')) box.checked = selectAll.checked;
    drawSelection();
  });

  // -- adding a card ------------------------------------------------------------------------------
  /** Whether a card just written (so new, not suspended or flagged) fits the current filters. */
  function matchesFilters(card) {
    const text = search.value.trim().toLowerCase();
    if (text && !card.front.toLowerCase().includes(text) && !card.back.toLowerCase().includes(text)) return false;
    if (stateSelect.value && stateSelect.value !== 'new') return false;
    return !(topicSelect && topicSelect.value && Number(topicSelect.value) !== card.topic_id);
  }

  function addForm(topics) {
    const errors = h('div');
    const front = h('textarea', { id: 'add-front', rows: 2, maxlength: 2000, required: true });
    const back = h('textarea', { id: 'add-back', rows: 3, maxlength: 5000, required: true });
    const target = oneTopic ? null : h('select', { id: 'add-topic', required: true },
      topics.filter((t) => !t.archived).map((t) => h('option', { value: t.id }, t.title)));
    const add = async (event) => {
      event.preventDefault();
      replace(errors);
      const where = oneTopic ? topicId : Number(target.value);
      if (!where) {
        replace(errors, errorBox('Create a topic first: a card belongs to a topic.'));
        return;
      }
      try {
        const card = await post(`/topics/${where}/cards`, { front: front.value, back: back.value }, { signal });
        state.changes += 1;
        announce(`Card added: “${short(card.front)}”.`);
        front.value = '';
        back.value = '';
        front.focus();
        // Shown where the server would list it: at the end, once the last page is in.
        if (!state.cursor && matchesFilters(card)) {
          state.cards.push(card);
          list.append(cardRow(card));
          drawStatus();
        }
      } catch (error) {
        if (error.name !== 'AbortError') replace(errors, errorBox(error.message));
      }
    };
    return h('details', { class: 'add-card' },
      h('summary', {}, 'Add a card'),
      h('form', { onsubmit: add },
        target ? h('div', { class: 'field' }, h('label', { for: 'add-topic' }, 'Topic'), target) : null,
        h('div', { class: 'field' }, h('label', { for: 'add-front' }, 'Front (question)'), front),
        h('div', { class: 'field' }, h('label', { for: 'add-back' }, 'Back (answer)'), back),
        errors,
        h('button', { type: 'submit', class: 'primary' }, 'Add card')));
  }

  // -- events and the first load -------------------------------------------------------------------
  let searchTimer = 0;
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(reload, SEARCH_DELAY_MS);
  });
  stateSelect.addEventListener('change', reload);
  topicSelect?.addEventListener('change', reload);
  signal.addEventListener('abort', () => clearTimeout(searchTimer), { once: true });

  // "/" jumps to the search box, also from a row's checkbox (which takes no text).
  const onCheckbox = (target) => target instanceof HTMLInputElement && target.type === 'checkbox';
  document.addEventListener('keydown', (event) => {
    const typing = typingIn(event.target) && !onCheckbox(event.target);
    if (event.key === '/' && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      search.focus();
    }
  }, { signal });

  (async () => {
    try {
      if (oneTopic) {
        const topic = await get(`/topics/${topicId}`, { signal });
        state.topics.set(topic.id, topic.title);
        title.textContent = `Cards: ${topic.title}`;
        document.title = `${title.textContent} — srs`;
        replace(addSlot, addForm([topic]));
      } else {
        const topics = await getAll('/topics', { signal });
        for (const topic of topics) {
          state.topics.set(topic.id, topic.title);
          topicSelect.append(h('option', { value: topic.id }, topic.title));
        }
        replace(addSlot, addForm(topics));
      }
      await reload();
    } catch (error) {
      if (error.name === 'AbortError') return;
      status.textContent = '';
      replace(alerts, errorBox(error.status === 404
        ? 'This topic does not exist, or it is not yours.'
        : `Could not load the cards: ${error.message}`));
    }
  })();

  return h('section', { class: 'cards-screen', 'aria-labelledby': 'cards-title' },
    h('p', { class: 'breadcrumb' }, oneTopic
      ? [h('a', { href: '#/topics' }, '← All topics'), ' · ', h('a', { href: `#/topics/${topicId}` }, 'Study this topic'), ' · ', h('a', { href: '#/cards' }, 'All cards')]
      : h('a', { href: '#/topics' }, '← All topics')),
    title,
    filters,
    addSlot,
    alerts,
    bulkBar,
    status,
    list,
    moreButton);
}
