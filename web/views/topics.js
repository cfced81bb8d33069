// The topics list (active, then archived), the prompt box that creates a topic and starts
// studying it, and each topic's "Manage" panel: rename, settings, archive, delete.

import { del, exportUrl, get, pagePath, patch, post } from '../api.js';
import { announce, errorBox, h, replace, sleep, typingIn } from '../dom.js';
import { STATUS_TEXT, number, percent } from '../format.js';

const MAX_PROMPT = 500;
// The topic's card style (srs.topics.models.CardStyle), as the learner reads it.
const CARD_STYLES = [
  ['basic', 'Questions and answers'],
  ['cloze', 'Fill in the gap (cloze)'],
  ['mixed', 'Both'],
];

function styleSelect(id, value) {
  const select = h('select', { id, name: 'card_style' },
    CARD_STYLES.map(([style, label]) => h('option', { value: style }, label)));
  select.value = value;
  return select;
}
const ACTIVE = new Set(['queued', 'running']);

export function generationLine(generation) {
  const parts = [STATUS_TEXT[generation.status] || generation.status];
  if (ACTIVE.has(generation.status) && generation.cards_in_flight > 0) {
    parts.push(`${generation.cards_in_flight} cards on the way`);
  }
  return parts.join(' · ');
}

export function exportLinks(topic) {
  return h('p', { class: 'exports' },
    'Export: ',
    h('a', { href: exportUrl(topic.id, 'csv'), download: '', 'aria-label': `Export ${topic.title} as CSV` }, 'CSV'),
    ' · ',
    h('a', { href: exportUrl(topic.id, 'apkg'), download: '', 'aria-label': `Export ${topic.title} as an Anki package` }, 'Anki (.apkg)'));
}

function totalCards(topic) {
  return topic.counts.ready + topic.counts.learning + topic.counts.review;
}

// -- one topic's "Manage" panel ------------------------------------------------------------------

function managePanel(topic, actions) {
  const id = topic.id;
  const errors = h('div', { class: 'manage-errors' });
  const run = (work) => async (event) => {
    event?.preventDefault();
    replace(errors);
    try {
      await work();
    } catch (error) {
      if (error.name !== 'AbortError') replace(errors, errorBox(error.message));
    }
  };

  const name = h('input', { id: `rename-${id}`, name: 'title', maxlength: 200, required: true, autocomplete: 'off' });
  name.value = topic.title;
  const renameForm = h('form', { class: 'manage-row', onsubmit: run(() => actions.rename(topic, name.value.trim())) },
    h('label', { for: `rename-${id}` }, 'Name'),
    h('div', { class: 'inline-field' }, name, h('button', { type: 'submit' }, 'Rename')));

  const perDay = h('input', {
    id: `per-day-${id}`, type: 'number', min: 0, max: 1000, inputmode: 'numeric',
    placeholder: 'default', 'aria-describedby': `per-day-help-${id}`,
  });
  if (topic.new_per_day_override !== null && topic.new_per_day_override !== undefined) {
    perDay.value = String(topic.new_per_day_override);
  }
  const writes = h('input', { id: `generate-${id}`, type: 'checkbox' });
  writes.checked = topic.generation_enabled;
  writes.disabled = topic.archived;
  const style = styleSelect(`style-${id}`, topic.card_style || 'basic');
  const verify = h('input', { id: `verify-${id}`, type: 'checkbox' });
  verify.checked = Boolean(topic.verify_cards);
  const settingsForm = h('form', {
    class: 'manage-row',
    onsubmit: run(() => actions.saveSettings(topic, perDay.value.trim(), writes.checked, style.value, verify.checked)),
  },
  h('label', { for: `per-day-${id}` }, 'New cards per day'),
  h('p', { id: `per-day-help-${id}`, class: 'hint' }, 'Leave empty to use your default.'),
  h('div', { class: 'inline-field' }, perDay),
  h('label', { for: `style-${id}` }, 'Kind of new cards'),
  h('div', { class: 'inline-field' }, style),
  h('div', { class: 'check' }, writes, h('label', { for: `generate-${id}` }, 'Write new cards for this topic')),
  h('div', { class: 'check' }, verify, h('label', { for: `verify-${id}` }, 'Check new cards with a second opinion before showing them')),
  h('button', { type: 'submit' }, 'Save settings'));

  const confirmSlot = h('div', { class: 'confirm-slot' });
  const askDelete = () => {
    replace(confirmSlot, h('div', { class: 'confirm', role: 'group', 'aria-labelledby': `confirm-${id}` },
      h('p', { id: `confirm-${id}` }, h('strong', {}, `Delete “${topic.title}”?`),
        ` Its ${number(totalCards(topic))} cards and their review history go too. This cannot be undone.`),
      h('div', { class: 'form-row' },
        h('button', { type: 'button', class: 'danger', onclick: run(() => actions.remove(topic)) }, `Yes, delete “${topic.title}”`),
        h('button', { type: 'button', onclick: () => { replace(confirmSlot); deleteButton.focus(); } }, 'Cancel'))));
    confirmSlot.querySelector('button.danger').focus();
  };
  const deleteButton = h('button', { type: 'button', id: `delete-${id}`, onclick: askDelete }, 'Delete…');
  const archiveButton = topic.archived
    ? h('button', { type: 'button', id: `unarchive-${id}`, onclick: run(() => actions.unarchive(topic)) }, 'Unarchive')
    : h('button', { type: 'button', id: `archive-${id}`, onclick: run(() => actions.archive(topic)) }, 'Archive');

  const details = h('details', { class: 'manage', 'data-topic': id },
    h('summary', {}, 'Manage', h('span', { class: 'visually-hidden' }, ` ${topic.title}`)),
    renameForm,
    settingsForm,
    h('div', { class: 'manage-row' },
      h('p', { class: 'hint' }, topic.archived
        ? 'Archived: the cards stay, no new ones are written, and it takes no active-topic slot.'
        : 'Archiving keeps the cards, stops new ones and frees an active-topic slot.'),
      h('div', { class: 'form-row start' }, archiveButton, deleteButton),
      confirmSlot),
    errors);
  details.addEventListener('toggle', () => actions.toggled(id, details.open));
  if (actions.isOpen(id)) details.open = true;
  return details;
}

function topicItem(topic, actions) {
  const due = topic.counts.review + topic.counts.learning;
  const status = topic.generation.status;
  return h('li', { class: `topic${topic.archived ? ' archived' : ''}`, 'data-topic': topic.id },
    h('h2', {}, h('a', { href: `#/topics/${topic.id}`, class: 'topic-link' }, topic.title)),
    h('dl', { class: 'counts' },
      h('div', {}, h('dt', {}, 'New'), h('dd', { class: 'count-new' }, topic.counts.new)),
      h('div', {}, h('dt', {}, 'Learning'), h('dd', { class: 'count-learning' }, topic.counts.learning)),
      h('div', {}, h('dt', {}, 'Due'), h('dd', { class: 'count-due' }, due)),
      h('div', {}, h('dt', {}, 'Level'), h('dd', {}, `${topic.level}/10`))),
    h('p', { class: `generation status-${status}` },
      h('span', { class: 'badge' }, topic.archived ? 'archived' : generationLine(topic.generation)),
      topic.recent_success !== null && topic.recent_success !== undefined
        ? ` · recent first-try success ${percent(topic.recent_success)}` : null),
    (status === 'failed' || status === 'quota_exceeded') && topic.generation.error
      ? h('p', { class: status === 'failed' ? 'error small' : 'small' }, topic.generation.error) : null,
    h('p', { class: 'topic-actions' },
      h('a', { href: `#/topics/${topic.id}`, class: 'button primary' }, 'Study', h('span', { class: 'visually-hidden' }, ` ${topic.title}`)),
      h('a', { href: `#/topics/${topic.id}/cards`, class: 'button' }, 'Cards', h('span', { class: 'visually-hidden' }, ` of ${topic.title}`))),
    exportLinks(topic),
    managePanel(topic, actions));
}

// -- the screen -----------------------------------------------------------------------------------

export function topicsView(ctx) {
  const { signal } = ctx;
  const list = h('div', { class: 'topic-list', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading your topics…'));
  const archivedSlot = h('div', { class: 'archived-topics' });
  const moreSlot = h('div');
  const lastStatus = new Map(); // topic id -> generation status, to announce changes only
  const openPanels = new Set(); // topic ids whose "Manage" panel is open
  let pagesShown = 1;
  const formErrors = h('div');
  const counter = h('span', { id: 'prompt-count', class: 'hint' }, `0/${MAX_PROMPT}`);
  const prompt = h('textarea', {
    id: 'prompt',
    name: 'prompt',
    rows: 3,
    maxlength: MAX_PROMPT,
    required: true,
    placeholder: 'e.g. Spanish verbs for travelling, the French Revolution, Python list methods',
    'aria-describedby': 'prompt-help prompt-count',
  });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create and study');
  const newStyle = styleSelect('new-card-style', 'basic');

  prompt.addEventListener('input', () => { counter.textContent = `${prompt.value.length}/${MAX_PROMPT}`; });
  prompt.addEventListener('keydown', (event) => {
    // Enter creates the topic; Shift+Enter keeps a new line.
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  async function create(event) {
    event.preventDefault();
    replace(formErrors);
    const text = prompt.value.trim();
    if (!text) {
      replace(formErrors, errorBox('Type what you want to learn (1 to 500 characters).'));
      prompt.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Creating…';
    try {
      const topic = await post('/topics', { prompt: text, card_style: newStyle.value }, { signal });
      announce(`Topic “${topic.title}” created. Generating cards.`);
      ctx.app.navigate(`#/topics/${topic.id}`);
    } catch (error) {
      if (error.name === 'AbortError') return;
      replace(formErrors, errorBox(error.message));
      submit.disabled = false;
      submit.textContent = 'Create and study';
      prompt.focus();
    }
  }

  const form = h('form', { class: 'new-topic', onsubmit: create },
    h('label', { for: 'prompt' }, 'What do you want to learn?'),
    h('p', { id: 'prompt-help', class: 'hint' }, 'Describe a topic; cards are written for you as you study. Enter creates it, Shift+Enter adds a line.'),
    prompt,
    h('div', { class: 'form-row' }, counter,
      h('label', { for: 'new-card-style', class: 'inline-label' }, 'Cards:'), newStyle, submit),
    formErrors);

  // -- what the "Manage" panels do (each answer redraws the list) ------------------------------
  const actions = {
    isOpen: (id) => openPanels.has(id),
    toggled(id, open) {
      if (open) openPanels.add(id);
      else openPanels.delete(id);
    },
    async rename(topic, title) {
      if (!title) throw new Error('Give the topic a name (1 to 200 characters).');
      const saved = await patch(`/topics/${topic.id}`, { title }, { signal });
      announce(`Renamed to “${saved.title}”.`);
      await refresh(true);
    },
    async saveSettings(topic, perDay, generationEnabled, cardStyle, verifyCards) {
      const newPerDay = perDay === '' ? null : Number(perDay);
      if (newPerDay !== null && !(Number.isInteger(newPerDay) && newPerDay >= 0 && newPerDay <= 1000)) {
        throw new Error('New cards per day is a whole number from 0 to 1000, or empty for your default.');
      }
      const body = { new_per_day: newPerDay, card_style: cardStyle };
      // Sent only when changed, so a topic following the default keeps following it.
      if (verifyCards !== topic.verify_cards) body.verify_cards = verifyCards;
      if (!topic.archived) body.generation_enabled = generationEnabled;
      const saved = await patch(`/topics/${topic.id}`, body, { signal });
      announce(`Settings of “${saved.title}” saved: ${saved.new_per_day} new cards a day, `
        + `${saved.generation_enabled ? 'new cards are written' : 'generation paused'}, `
        + `${CARD_STYLES.find(([style]) => style === saved.card_style)[1].toLowerCase()}.`);
      await refresh(true);
    },
    async archive(topic) {
      await post(`/topics/${topic.id}/archive`, undefined, { signal });
      openPanels.delete(topic.id);
      announce(`“${topic.title}” archived. Its cards are kept.`);
      await refresh(true);
      document.querySelector(`main li[data-topic="${topic.id}"] h2 a`)?.focus();
    },
    async unarchive(topic) {
      await post(`/topics/${topic.id}/unarchive`, undefined, { signal });
      openPanels.delete(topic.id);
      announce(`“${topic.title}” is active again.`);
      await refresh(true);
      document.querySelector(`main li[data-topic="${topic.id}"] h2 a`)?.focus();
    },
    async remove(topic) {
      await del(`/topics/${topic.id}`, { signal });
      openPanels.delete(topic.id);
      announce(`“${topic.title}” deleted.`);
      await refresh(true);
      prompt.focus();
    },
  };

  async function fetchTopics() {
    const items = [];
    let cursor = null;
    let pages = 0;
    do {
      const page = await get(pagePath('/topics', { cursor }), { signal });
      items.push(...page.items);
      cursor = page.next_cursor;
      pages += 1;
    } while (cursor && pages < pagesShown);
    return { items, more: cursor !== null };
  }

  function draw(topics, more) {
    const active = topics.filter((t) => !t.archived);
    const archived = topics.filter((t) => t.archived);
    // Keep keyboard focus on the same control when the list is redrawn.
    const focused = document.activeElement;
    const focusKey = (list.contains(focused) || archivedSlot.contains(focused))
      ? (focused.id ? `#${CSS.escape(focused.id)}` : focused.getAttribute('href') && `[href="${CSS.escape(focused.getAttribute('href'))}"]`)
      : null;
    if (active.length === 0) {
      replace(list, h('p', { class: 'empty' }, archived.length
        ? 'No active topics. Type one above, or unarchive one below.'
        : 'No topics yet. Type one above to start.'));
    } else {
      replace(list, h('ul', { class: 'topics' }, active.map((t) => topicItem(t, actions))));
    }
    replace(archivedSlot, archived.length === 0 ? null : h('section', { 'aria-labelledby': 'archived-title' },
      h('h2', { id: 'archived-title', class: 'section-title' }, `Archived topics (${archived.length})`),
      h('ul', { class: 'topics' }, archived.map((t) => topicItem(t, actions)))));
    replace(moreSlot, more
      ? h('button', { type: 'button', class: 'load-more', onclick: showMore }, 'Show more topics')
      : null);
    if (focusKey) document.querySelector(`main ${focusKey}`)?.focus();
  }

  async function showMore() {
    pagesShown += 1;
    await refresh(true);
  }

  let firstLoad = true;
  async function refresh(force = false) {
    const { items: topics, more } = await fetchTopics();
    list.setAttribute('aria-busy', 'false');
    for (const id of openPanels) {
      if (!topics.some((t) => t.id === id)) openPanels.delete(id); // deleted elsewhere
    }
    // A panel being used is not redrawn under the learner's hands; its own actions force it.
    const busy = openPanels.size > 0 && !force;
    if (!busy) draw(topics, more);
    for (const topic of topics) {
      const before = lastStatus.get(topic.id);
      if (before && before !== topic.generation.status) {
        announce(`${topic.title}: ${STATUS_TEXT[topic.generation.status] || topic.generation.status}`);
      }
      lastStatus.set(topic.id, topic.generation.status);
    }
    if (firstLoad && topics.length === 0) prompt.focus();
    firstLoad = false;
    return topics;
  }

  (async () => {
    let delay = 0;
    while (!signal.aborted) {
      try {
        await sleep(delay, signal);
        const topics = await refresh();
        // Refresh often while cards are being written, rarely otherwise.
        delay = topics.some((t) => ACTIVE.has(t.generation.status)) ? 2000 : 20000;
      } catch (error) {
        if (error.name === 'AbortError') return;
        replace(list, errorBox(`Could not load your topics: ${error.message}`));
        delay = 5000;
      }
    }
  })();

  // "n" jumps to the prompt box from anywhere on the page.
  document.addEventListener('keydown', (event) => {
    if (event.key === 'n' && !typingIn(event.target) && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      prompt.focus();
    }
  }, { signal });

  return h('section', { class: 'topics-screen' },
    h('h1', {}, 'Your topics'),
    form,
    list,
    moreSlot,
    archivedSlot,
    h('p', { class: 'hint' }, h('a', { href: '#/cards' }, 'Browse and search all your cards')));
}
