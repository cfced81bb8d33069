// The topics list and the prompt box that creates a topic and starts studying it.

import { exportUrl, get, post } from '../api.js';
import { announce, errorBox, h, replace, sleep, typingIn } from '../dom.js';
import { STATUS_TEXT, percent } from '../format.js';

const MAX_PROMPT = 500;
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

function topicItem(topic) {
  const due = topic.counts.review + topic.counts.learning;
  const status = topic.generation.status;
  return h('li', { class: 'topic' },
    h('h2', {}, h('a', { href: `#/topics/${topic.id}`, class: 'topic-link' }, topic.title)),
    h('dl', { class: 'counts' },
      h('div', {}, h('dt', {}, 'New'), h('dd', { class: 'count-new' }, topic.counts.new)),
      h('div', {}, h('dt', {}, 'Learning'), h('dd', { class: 'count-learning' }, topic.counts.learning)),
      h('div', {}, h('dt', {}, 'Due'), h('dd', { class: 'count-due' }, due)),
      h('div', {}, h('dt', {}, 'Level'), h('dd', {}, `${topic.level}/10`))),
    h('p', { class: `generation status-${status}` },
      h('span', { class: 'badge' }, generationLine(topic.generation)),
      topic.recent_success !== null && topic.recent_success !== undefined
        ? ` · recent first-try success ${percent(topic.recent_success)}` : null),
    (status === 'failed' || status === 'quota_exceeded') && topic.generation.error
      ? h('p', { class: status === 'failed' ? 'error small' : 'small' }, topic.generation.error) : null,
    h('p', { class: 'topic-actions' },
      h('a', { href: `#/topics/${topic.id}`, class: 'button primary' }, 'Study', h('span', { class: 'visually-hidden' }, ` ${topic.title}`))),
    exportLinks(topic));
}

export function topicsView(ctx) {
  const { signal } = ctx;
  const list = h('div', { class: 'topic-list', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading your topics…'));
  const lastStatus = new Map(); // topic id -> generation status, to announce changes only
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
      const topic = await post('/topics', { prompt: text }, { signal });
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
    h('div', { class: 'form-row' }, counter, submit),
    formErrors);

  let firstLoad = true;
  async function refresh() {
    const topics = await get('/topics', { signal });
    list.setAttribute('aria-busy', 'false');
    if (topics.length === 0) {
      replace(list, h('p', { class: 'empty' }, 'No topics yet. Type one above to start.'));
    } else {
      // Keep keyboard focus on the same link when the list is redrawn.
      const focusedHref = list.contains(document.activeElement) ? document.activeElement.getAttribute('href') : null;
      replace(list, h('ul', { class: 'topics' }, topics.map(topicItem)));
      if (focusedHref) list.querySelector(`a[href="${CSS.escape(focusedHref)}"]`)?.focus();
    }
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
    list);
}
