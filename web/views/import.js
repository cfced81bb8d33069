// Import: an Anki package (.apkg, .colpkg) or a CSV/TSV file, followed to the end.

import { get, upload } from '../api.js';
import { announce, errorBox, h, replace, sleep } from '../dom.js';
import { number } from '../format.js';

const ACCEPT = '.apkg,.colpkg,.csv,.tsv,.txt';
const POLL_MS = 500;
const COUNT_LABELS = {
  cards: 'Cards imported',
  notes: 'Notes',
  reviews: 'Past reviews replayed',
  topics: 'Topics',
  reviews_restored: 'Cards with their schedule',
  media_files: 'Media files in the package (not imported)',
  media_references: 'Sounds and images in fields (removed)',
  cloze_notes: 'Cloze notes (one card per deletion)',
  skipped_cloze_notes: 'Cloze notes skipped (a text our cloze cards refuse: nested or too long)',
  skipped_empty: 'Cards skipped: a side was empty',
  skipped_unsupported: 'Cards skipped: note type not understood',
  skipped_short_rows: 'Rows skipped: fewer than two fields',
  cards_without_history: 'Cards whose memory came from the interval (no review log)',
};

function countsList(counts) {
  const rows = Object.entries(counts)
    .filter(([key, value]) => value > 0 && key !== 'skipped_cloze_cards')
    .map(([key, value]) => h('div', {}, h('dt', {}, COUNT_LABELS[key] || key.replaceAll('_', ' ')), h('dd', {}, number(value))));
  return h('dl', { class: 'facts', id: 'import-counts' }, rows);
}

function result(job) {
  if (job.status === 'failed') return errorBox(job.error || 'The import failed; nothing was imported.');
  return [
    h('p', { class: 'banner notice', id: 'import-done' }, `Imported ${job.filename}.`),
    countsList(job.counts),
    h('p', {}, 'Imported topics do not generate new cards until you ask them to. ',
      ...job.topic_ids.map((id, i) => [i ? ', ' : '', h('a', { href: `#/topics/${id}` }, 'study topic ' + (i + 1))]).flat()),
  ];
}

async function follow(job, status, signal) {
  while (job.status === 'queued' || job.status === 'running') {
    replace(status,
      h('label', { for: 'import-progress' }, `Importing ${job.filename}… ${Math.round(job.progress * 100)}%`),
      h('progress', { id: 'import-progress', max: 1, value: job.progress }));
    await sleep(POLL_MS, signal);
    job = await get(`/imports/${job.id}`, { signal });
  }
  replace(status, result(job));
  announce(job.status === 'done' ? `Import finished: ${number(job.counts.cards || 0)} cards` : 'Import failed');
}

export function importView(ctx) {
  const input = h('input', { type: 'file', id: 'import-file', accept: ACCEPT, required: true });
  const button = h('button', { type: 'submit' }, 'Import');
  const status = h('div', { id: 'import-status', 'aria-live': 'polite' });
  const form = h('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      const file = input.files && input.files[0];
      if (!file) return;
      button.disabled = true;
      replace(status, h('p', { class: 'loading' }, `Uploading ${file.name}…`));
      try {
        await follow(await upload('/imports', file, { signal: ctx.signal }), status, ctx.signal);
      } catch (error) {
        if (error.name === 'AbortError') return;
        replace(status, errorBox(`Not imported: ${error.message}`));
      } finally {
        button.disabled = false;
      }
    },
  },
  h('label', { for: 'import-file' }, 'Anki package (.apkg, .colpkg) or CSV/TSV file'),
  input, button);
  return h('section', { class: 'import narrow' },
    h('h1', {}, 'Import'),
    h('p', { class: 'hint' }, 'Each Anki deck becomes a topic, with its review history: cards arrive with their memory and due dates. Sounds and images are not imported; cloze notes become one card per deletion.'),
    form, status);
}
