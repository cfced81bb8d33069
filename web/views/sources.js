// A topic's sources (the learner's own material) and, under a card written from one, the
// "from: Chapter 3, p. 41" line that opens the passage with the quoted words marked.

import { del, get, post, upload } from '../api.js';
import { announce, errorBox, h, replace } from '../dom.js';

const REFRESH_MS = 2000; // while a source is being read
const STATUS_TEXT = {
  pending: 'waiting to be read',
  extracting: 'being read',
  ready: 'ready',
  failed: 'could not be read',
};

/** "from: <label>" under a grounded card; one click shows the passage it came from. */
export function sourceLine(card, signal) {
  if (!card.source) return null;
  const panel = h('div', { class: 'passage-slot' });
  let open = false;
  const toggle = async () => {
    open = !open;
    button.setAttribute('aria-expanded', String(open));
    if (!open) {
      replace(panel);
      return;
    }
    replace(panel, h('p', { class: 'loading' }, 'Loading the passage…'));
    try {
      const found = await get(`/cards/${card.id}/passage`, { signal });
      const text = found.passage.text;
      const { start, end } = found.quote;
      replace(panel, h('blockquote', { class: 'passage', id: 'passage' },
        h('p', { class: 'passage-label' }, `${found.source_title} — ${found.passage.label}`),
        h('p', { class: 'passage-text' }, text.slice(0, start), h('mark', {}, text.slice(start, end)), text.slice(end))));
    } catch (error) {
      if (error.name === 'AbortError') return;
      // 404: the source was deleted since this card was shown (its cards lose their citation).
      replace(panel, error.status === 404
        ? h('p', { class: 'hint', id: 'passage-gone' }, 'Its source has been deleted: the passage is gone.')
        : errorBox(`The passage cannot be shown: ${error.message}`));
    }
  };
  const button = h('button', { type: 'button', class: 'link-button source-link', id: 'source-link', 'aria-expanded': 'false', onclick: toggle },
    card.source.label);
  return h('div', { class: 'card-source' }, h('p', {}, 'from: ', button), panel);
}

/** The topic's sources with their progress, each with a Delete button (asks first), and a
 * form to add one (file, URL or text). */
export function sourcesSection(ctx, topicId) {
  const { signal } = ctx;
  const list = h('ul', { class: 'source-list', id: 'source-list' });
  const errors = h('div');
  const file = h('input', { type: 'file', id: 'source-file', accept: '.pdf,.md,.markdown,.txt,.html,.htm,.epub' });
  const url = h('input', { type: 'url', id: 'source-url', placeholder: 'https://…', maxlength: 2000 });
  const text = h('textarea', { id: 'source-text', rows: 3, placeholder: 'Or paste text' });
  let timer = null;

  async function refresh() {
    clearTimeout(timer);
    try {
      const { items } = await get(`/topics/${topicId}/sources`, { signal });
      replace(list, items.length === 0
        ? h('li', { class: 'empty' }, 'No sources: cards come from the model’s own knowledge.')
        : items.map((s) => h('li', { class: `source source-${s.status}`, 'data-id': s.id },
          h('strong', {}, s.title), ` · ${STATUS_TEXT[s.status] || s.status}`,
          s.status === 'extracting' ? ` (${Math.round(s.progress * 100)} %)` : null,
          s.status === 'ready' ? ` · ${s.covered} of ${s.passages} passages covered${s.pages ? ` · ${s.pages} pages` : ''}` : null,
          ' ', deleteButton(s),
          s.error ? h('p', { class: 'error' }, s.error) : null)));
      if (items.some((s) => s.status === 'pending' || s.status === 'extracting')) {
        timer = setTimeout(refresh, REFRESH_MS);
      }
    } catch (error) {
      if (error.name !== 'AbortError') replace(errors, errorBox(error.message));
    }
  }

  // Deleting asks first, in place: what happens to the cards and to the month's usage.
  function deleteButton(source) {
    const slot = h('span', { class: 'source-actions' });
    const button = h('button', { type: 'button', class: 'link-button source-delete', 'aria-label': `Delete the source “${source.title}”`, onclick: () => ask() }, 'Delete');
    function ask() {
      const yes = h('button', { type: 'button', class: 'danger source-delete-confirm', onclick: async () => {
        try {
          await del(`/sources/${source.id}`, { signal });
          announce(`Deleted the source “${source.title}”.`);
          refresh();
        } catch (error) {
          if (error.name !== 'AbortError') replace(errors, errorBox(`Could not delete the source: ${error.message}`));
        }
      } }, 'Yes, delete');
      replace(slot, h('span', { class: 'confirm-inline', role: 'group', 'aria-label': 'Confirm deletion' },
        'Delete this source? Cards written from it stay, without their “from:” line; this period’s usage is not given back. ',
        yes, ' ', h('button', { type: 'button', onclick: () => { replace(slot, button); button.focus(); } }, 'Cancel')));
      yes.focus();
    }
    replace(slot, button);
    return slot;
  }

  async function add(event) {
    event.preventDefault();
    replace(errors);
    try {
      if (file.files.length > 0) await upload(`/topics/${topicId}/sources`, file.files[0], { signal });
      else if (url.value.trim()) await post(`/topics/${topicId}/sources`, { url: url.value.trim() }, { signal });
      else if (text.value.trim()) await post(`/topics/${topicId}/sources`, { text: text.value }, { signal });
      else throw new Error('Choose a file, give a URL or paste some text.');
      file.value = '';
      url.value = '';
      text.value = '';
      refresh();
    } catch (error) {
      if (error.name !== 'AbortError') replace(errors, errorBox(error.message));
    }
  }

  refresh();
  return h('details', { class: 'sources', id: 'sources' },
    h('summary', {}, h('h2', {}, 'Sources')),
    h('p', { class: 'hint' }, 'Cards are written from your own material, in order, each citing its passage.'),
    list,
    h('form', { class: 'source-form', onsubmit: add },
      h('div', { class: 'field' }, h('label', { for: 'source-file' }, 'A file (PDF, Markdown, text, HTML, EPUB)'), file),
      h('div', { class: 'field' }, h('label', { for: 'source-url' }, 'A web page'), url),
      h('div', { class: 'field' }, h('label', { for: 'source-text' }, 'Text'), text),
      errors,
      h('button', { type: 'submit' }, 'Add source')));
}
