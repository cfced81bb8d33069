// The topic's outline: the subtopics its batches of cards are spread over. The model writes
// it when the topic is created and extends it as subtopics fill up; the learner can rename,
// remove and add subtopics (PUT sends the whole outline as it should be).

import { request } from '../api.js';
import { errorBox, h, replace } from '../dom.js';

const REFRESH_MS = 5000; // card counts move and the model may add subtopics
const MAX_NAME = 120;
const MAX_SCOPE = 300;

export function outlineSection(ctx, topicId) {
  const { signal } = ctx;
  const path = `/topics/${topicId}/outline`;
  let subtopics = null; // the last outline from the server
  let editing = false;

  const body = h('div', { class: 'outline-body' }, h('p', { class: 'loading' }, 'Loading the outline…'));
  const status = h('p', { class: 'hint', role: 'status', 'aria-live': 'polite' });
  const root = h('details', { class: 'outline', id: 'outline', open: true },
    h('summary', {}, h('h2', { id: 'outline-title' }, 'Outline')),
    h('p', { class: 'hint' }, 'New cards go to the subtopic with the fewest; when all are covered, deeper subtopics are added.'),
    body,
    status);

  function show() {
    if (!subtopics || subtopics.length === 0) {
      replace(body, h('p', { class: 'empty' }, 'No outline yet: the model writes one before the first cards.'));
      return;
    }
    replace(body,
      h('ol', { class: 'outline-list', 'aria-labelledby': 'outline-title' },
        subtopics.map((s) => h('li', { class: 'subtopic', 'data-id': s.id },
          h('strong', { class: 'subtopic-name' }, s.name),
          s.scope ? [' — ', h('span', { class: 'subtopic-scope' }, s.scope)] : null,
          h('span', { class: 'hint' }, ` · ${s.cards} card${s.cards === 1 ? '' : 's'}`)))),
      h('button', { type: 'button', id: 'outline-edit', onclick: edit }, 'Edit outline'));
  }

  function row(subtopic) {
    const name = h('input', { class: 'subtopic-name-input', value: subtopic.name, maxlength: MAX_NAME, required: true, 'aria-label': 'Subtopic name' });
    const scope = h('input', { class: 'subtopic-scope-input', value: subtopic.scope || '', maxlength: MAX_SCOPE, 'aria-label': 'What it covers' });
    const item = h('li', { class: 'subtopic-edit' }, name, scope);
    item.subtopicId = subtopic.id; // undefined for a new one
    item.append(h('button', { type: 'button', class: 'subtopic-remove', 'aria-label': `Remove ${subtopic.name || 'this subtopic'}`, onclick: () => item.remove() }, 'Remove'));
    return item;
  }

  function edit() {
    editing = true;
    const list = h('ol', { class: 'outline-list editing' }, (subtopics || []).map(row));
    const add = () => {
      const item = row({ name: '', scope: '' });
      list.append(item);
      item.querySelector('input').focus();
    };
    async function save(event) {
      event.preventDefault();
      const items = [...list.children].map((item) => ({
        ...(item.subtopicId ? { id: item.subtopicId } : {}),
        name: item.querySelector('.subtopic-name-input').value,
        scope: item.querySelector('.subtopic-scope-input').value,
      }));
      try {
        const answer = await request('PUT', path, { body: { subtopics: items }, signal });
        subtopics = answer.subtopics;
        editing = false;
        show();
        status.textContent = 'Outline saved.';
      } catch (error) {
        if (error.name !== 'AbortError') replace(status, errorBox(`Could not save the outline: ${error.message}`));
      }
    }
    replace(body, h('form', { class: 'outline-form', onsubmit: save },
      list,
      h('div', { class: 'form-row' },
        h('button', { type: 'button', id: 'outline-add', onclick: add }, 'Add subtopic'),
        h('span', {},
          h('button', { type: 'button', id: 'outline-cancel', onclick: () => { editing = false; show(); } }, 'Cancel'), ' ',
          h('button', { type: 'submit', class: 'primary', id: 'outline-save' }, 'Save outline')))));
    status.textContent = '';
  }

  async function load() {
    try {
      const answer = await request('GET', path, { signal });
      subtopics = answer.subtopics;
      if (!editing) show();
    } catch (error) {
      if (error.name !== 'AbortError' && !editing) replace(body, errorBox(`Could not load the outline: ${error.message}`));
    }
  }

  load();
  const timer = setInterval(() => { if (!editing) load(); }, REFRESH_MS);
  signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  return root;
}
