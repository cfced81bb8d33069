// The study screen: one card at a time, keyboard first, and an honest account of generation.

import { get, patch, post } from '../api.js';
import { append, errorBox, h, replace, typingIn } from '../dom.js';
import { RATINGS, interval, percent, until } from '../format.js';
import { exportLinks } from './topics.js';

const ACTIVE = new Set(['queued', 'running']);
const LONG_POLL_SECONDS = 25;

function short(text, max = 60) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function kbd(key) {
  return h('kbd', {}, key);
}

export function studyView(ctx, topicId) {
  const { signal } = ctx;
  const base = `/topics/${topicId}`;
  const state = {
    topic: null,
    next: null, // the last answer of GET /next
    revealed: false,
    shownAt: 0,
    busy: false,
    panel: null, // 'edit' | 'flag' | null
  };

  // -- the page's fixed parts ----------------------------------------------------------------
  const title = h('h1', { id: 'study-title' }, 'Study');
  const levelLine = h('p', { class: 'level-line', id: 'level-line' });
  const counts = h('dl', { class: 'counts today', 'aria-label': "Today's counts" });
  const exportsSlot = h('div');
  const feedbackButtons = h('div', { class: 'feedback', role: 'group', 'aria-labelledby': 'feedback-label' },
    h('span', { class: 'feedback-label', id: 'feedback-label' }, 'New cards are'),
    h('button', { type: 'button', id: 'too-easy', onclick: () => feedback('too_easy') }, 'Too easy'),
    h('button', { type: 'button', id: 'too-hard', onclick: () => feedback('too_hard') }, 'Too hard'));
  const banners = h('div', { class: 'banners' });
  const flashLine = h('p', { class: 'flash', role: 'status', 'aria-live': 'polite' });
  const alerts = h('div', { class: 'alerts' });
  const stage = h('div', { class: 'card-stage', 'aria-live': 'polite' }, h('p', { class: 'loading' }, 'Loading…'));
  const answerBar = h('div', { class: 'answer-bar' });
  const tools = h('div', { class: 'card-tools' });
  const panelSlot = h('div', { class: 'panel-slot' });

  const root = h('section', { class: 'study', 'aria-labelledby': 'study-title' },
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/topics' }, '← All topics')),
    h('header', { class: 'study-header' },
      title,
      levelLine,
      feedbackButtons,
      counts,
      exportsSlot),
    banners,
    flashLine,
    alerts,
    stage,
    answerBar,
    tools,
    panelSlot,
    h('details', { class: 'shortcuts' },
      h('summary', {}, 'Keyboard shortcuts'),
      h('ul', {},
        h('li', {}, kbd('Space'), ' or ', kbd('Enter'), ' show the answer'),
        h('li', {}, kbd('1'), ' Again · ', kbd('2'), ' Hard · ', kbd('3'), ' Good · ', kbd('4'), ' Easy'),
        h('li', {}, kbd('U'), ' undo the last answer'),
        h('li', {}, kbd('E'), ' edit the card · ', kbd('F'), ' flag it as wrong · ', kbd('Esc'), ' close a form'))));

  // -- messages -----------------------------------------------------------------------------
  function flash(text, action) {
    replace(alerts);
    replace(flashLine, text, action
      ? [' ', h('button', { type: 'button', class: 'link-button', onclick: action.run }, action.label)]
      : null);
  }

  function fail(prefix, error) {
    if (error.name === 'AbortError') return;
    replace(flashLine);
    replace(alerts, errorBox(`${prefix}: ${error.message}`));
  }

  // -- rendering ----------------------------------------------------------------------------
  function card() {
    return state.next && state.next.card;
  }

  function generation() {
    return (state.next && state.next.generation) || (state.topic && state.topic.generation) || { status: 'idle' };
  }

  function renderHeader() {
    const topic = state.topic;
    if (!topic) return;
    title.textContent = topic.title;
    document.title = `${topic.title} — srs`;
    const success = topic.recent_success === null || topic.recent_success === undefined
      ? 'no first attempts yet'
      : `recent first-try success ${percent(topic.recent_success)}`;
    replace(levelLine, 'Level ', h('strong', { id: 'level-value' }, `${topic.level}`), '/10 · ',
      h('span', { id: 'recent-success' }, success));
    replace(exportsSlot, exportLinks(topic));
  }

  function renderCounts() {
    const c = state.next ? state.next.counts : state.topic && state.topic.counts;
    if (!c) return;
    replace(counts,
      h('div', {}, h('dt', {}, 'New'), h('dd', { class: 'count-new' }, c.new)),
      h('div', {}, h('dt', {}, 'Learning'), h('dd', { class: 'count-learning' }, c.learning)),
      h('div', {}, h('dt', {}, 'Due'), h('dd', { class: 'count-due' }, c.review + c.learning)));
  }

  function renderBanners() {
    const gen = generation();
    const current = card();
    const items = [];
    if (gen.status === 'quota_exceeded') {
      const plan = (ctx.app.user && ctx.app.user.plan) || 'current';
      items.push(h('div', { class: 'banner warning', role: 'status' },
        h('strong', {}, 'Card quota reached. '),
        gen.error || `This period's generated cards on the ${plan} plan are used up, so no new cards are being written. Existing cards can still be studied.`,
        ' ',
        h('a', { href: '#/usage' }, 'See usage and how to upgrade')));
    }
    if (gen.status === 'failed' && current) {
      items.push(h('div', { class: 'banner danger' },
        h('strong', {}, 'Generating more cards failed. '),
        gen.error || 'The model did not deliver cards.', ' ',
        h('button', { type: 'button', class: 'retry', onclick: retry }, 'Retry')));
    }
    if (current && current.model_notice) {
      // The server words the notice for the model that wrote this card (see srs/llm/local.py).
      items.push(h('aside', { class: 'banner notice model-notice', 'aria-label': 'About these cards' },
        h('p', {}, current.model_notice)));
    }
    replace(banners, items);
  }

  function renderWaiting() {
    const answer = state.next;
    const gen = generation();
    let body;
    if (ACTIVE.has(gen.status)) {
      const flight = gen.cards_in_flight > 0 ? `${gen.cards_in_flight} cards on the way` : 'asking for cards';
      body = h('div', { class: 'waiting generating', id: 'generating' },
        h('span', { class: 'spinner', 'aria-hidden': 'true' }),
        h('h2', {}, 'Generating cards…'),
        h('p', { class: 'progress-line' }, `${flight} · ${gen.status === 'queued' ? 'waiting for the model' : 'the model is writing'}`),
        h('p', { class: 'hint' }, 'The first card appears here by itself as soon as it is written.'));
    } else if (gen.status === 'failed') {
      body = h('div', { class: 'waiting failed', id: 'generation-failed' },
        h('h2', {}, 'Card generation failed'),
        h('p', { class: 'error', id: 'generation-error' }, gen.error || 'The model did not deliver cards.'),
        h('button', { type: 'button', class: 'primary retry', onclick: retry }, 'Retry'));
    } else if (answer && answer.new_limit_reached) {
      body = h('div', { class: 'waiting done' },
        h('h2', {}, 'Daily new-card limit reached'),
        h('p', {}, answer.next_due
          ? `New cards continue tomorrow. Next review card in ${until(answer.next_due)}.`
          : 'New cards continue tomorrow.'));
    } else if (gen.status === 'quota_exceeded') {
      body = h('div', { class: 'waiting done' },
        h('h2', {}, 'No cards to study right now'),
        h('p', {}, answer && answer.next_due ? `Next card in ${until(answer.next_due)}.` : 'The monthly card quota is used up; see the banner above.'));
    } else if (answer && answer.next_due) {
      body = h('div', { class: 'waiting done' },
        h('h2', {}, 'All caught up'),
        h('p', { id: 'next-due' }, `Next card in ${until(answer.next_due)}.`));
    } else {
      body = h('div', { class: 'waiting empty' },
        h('h2', {}, 'No cards ready'),
        h('button', { type: 'button', class: 'primary', onclick: retry }, 'Generate more cards'));
    }
    // Redraw only what changed, and keep keyboard focus on the same control when it is redrawn.
    const key = JSON.stringify([body.className, body.textContent]);
    if (stage.dataset.key === key) return;
    const focusedClass = stage.contains(document.activeElement) ? document.activeElement.className : null;
    stage.dataset.key = key;
    replace(stage, body);
    replace(answerBar);
    replace(tools, undoButton());
    closePanel(false);
    if (focusedClass) {
      const again = [...stage.querySelectorAll('button')].find((b) => b.className === focusedClass);
      again?.focus();
    }
  }

  function undoButton() {
    return h('button', { type: 'button', onclick: undo, 'aria-keyshortcuts': 'U' }, 'Undo last answer ', kbd('U'));
  }

  function renderCard() {
    const current = card();
    const article = h('article', {
      class: `card${state.revealed ? ' revealed' : ''}`,
      id: 'card',
      tabindex: '-1',
      'aria-label': state.revealed ? 'Card, answer shown' : 'Card, question',
    },
    h('p', { class: 'card-label' }, 'Question'),
    h('div', { class: 'card-front', id: 'card-front' }, current.front),
    state.revealed
      ? [h('hr'), h('p', { class: 'card-label' }, 'Answer'), h('div', { class: 'card-back', id: 'card-back' }, current.back)]
      : null,
    current.flag_reason ? h('p', { class: 'flagged-note' }, `You flagged this card: ${current.flag_reason}`) : null,
    h('p', { class: 'card-meta' }, `${current.state}${current.level ? ` · level ${current.level}` : ''}${current.model ? ` · ${current.model}` : ' · written by hand'}`));
    stage.dataset.key = '';
    replace(stage, article);

    if (!state.revealed) {
      replace(answerBar, h('button', { type: 'button', class: 'primary show-answer', onclick: reveal, 'aria-keyshortcuts': 'Space Enter' },
        'Show answer ', kbd('Space')));
    } else {
      replace(answerBar, h('div', { class: 'ratings', role: 'group', 'aria-label': 'How well did you know it?' },
        RATINGS.map(({ value, name }) => {
          const next = interval(current.intervals && current.intervals[String(value)]);
          return h('button', {
            type: 'button',
            class: `rate rate-${value}`,
            'data-rating': value,
            'aria-keyshortcuts': String(value),
            'aria-label': `${name}, back in ${next} (key ${value})`,
            onclick: () => rate(value),
          }, h('span', { class: 'rate-name' }, name), h('span', { class: 'rate-interval' }, next), kbd(String(value)));
        })));
    }
    replace(tools,
      undoButton(),
      h('button', { type: 'button', onclick: () => openPanel('edit'), 'aria-keyshortcuts': 'E' }, 'Edit ', kbd('E')),
      h('button', { type: 'button', onclick: suspend }, 'Suspend'),
      h('button', { type: 'button', onclick: bury }, 'Bury until tomorrow'),
      h('button', { type: 'button', onclick: () => openPanel('flag'), 'aria-keyshortcuts': 'F' }, 'This card is wrong ', kbd('F')));
  }

  // Move focus to new content only when the learner's focus is not somewhere else on purpose.
  function focusIfIdle(element) {
    const active = document.activeElement;
    const idle = !active || active === document.body || active === title || active.id === 'main'
      || stage.contains(active) || answerBar.contains(active);
    if (idle && state.panel === null) element?.focus();
  }

  function render() {
    renderHeader();
    renderCounts();
    renderBanners();
    if (card()) renderCard();
    else renderWaiting();
  }

  // -- loading and long-polling --------------------------------------------------------------
  let epoch = 0; // bumped by every direct load, so a stale long-poll answer is ignored
  let pollController = null;
  let wakePoll = () => {};
  let tickTimer = 0;

  function apply(answer, fresh) {
    const before = card();
    const beforeStatus = generation().status;
    state.next = answer;
    const now = card();
    if (now && (fresh || !before || before.id !== now.id)) {
      state.revealed = false;
      state.shownAt = performance.now();
      closePanel(false);
    }
    render();
    if (now && (fresh || !before || before.id !== now.id)) focusIfIdle(document.getElementById('card'));
    if (!now && beforeStatus !== generation().status && generation().status === 'failed') {
      focusIfIdle(stage.querySelector('.retry'));
    }
    clearInterval(tickTimer);
    if (!now && answer.next_due) tickTimer = setInterval(() => { if (!card()) renderWaiting(); }, 20000);
  }

  async function loadNext() {
    epoch += 1;
    pollController?.abort();
    wakePoll();
    const answer = await get(`${base}/next`, { signal });
    apply(answer, true);
    if (!answer.card) startPolling();
  }

  function nap(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() { clearTimeout(timer); signal.removeEventListener('abort', done); wakePoll = () => {}; resolve(); }
      wakePoll = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }

  let polling = false;
  async function startPolling() {
    if (polling) return;
    polling = true;
    let failures = 0;
    try {
      while (!signal.aborted && !card()) {
        const mine = epoch;
        pollController = new AbortController();
        const stop = () => pollController.abort();
        signal.addEventListener('abort', stop, { once: true });
        const started = Date.now();
        try {
          const answer = await get(`${base}/next?wait=${LONG_POLL_SECONDS}`, { signal: pollController.signal });
          failures = 0;
          if (mine !== epoch) continue; // a newer load already answered
          apply(answer, false);
          if (answer.card) break;
          const active = ACTIVE.has(answer.generation.status);
          if (!active && Date.now() - started < 2000) {
            // The server answered at once: nothing can arrive soon. Check again before the
            // next card falls due, and now and then in case cards arrive from elsewhere.
            const due = answer.next_due ? Date.parse(answer.next_due) - Date.now() - 20000 : 30000;
            await nap(Math.min(60000, Math.max(1000, due)));
          } else if (Date.now() - started < 500) {
            await nap(1000); // never spin, whatever the server answers
          }
        } catch (error) {
          if (error.name === 'AbortError') {
            if (signal.aborted) return;
            continue; // a direct load replaced this poll; go on if there is still no card
          }
          if (error.status >= 400 && error.status < 500) {
            replace(stage, errorBox(error.status === 404 ? 'This topic no longer exists.' : error.message));
            return; // asking again would get the same answer (a 401 already shows the login)
          }
          failures += 1;
          replace(alerts, errorBox(`Lost contact with the server (${error.message}). Trying again…`));
          await nap(Math.min(30000, 1000 * 2 ** failures));
          replace(alerts);
        } finally {
          signal.removeEventListener('abort', stop);
        }
      }
    } finally {
      polling = false;
    }
  }

  async function refreshTopic() {
    try {
      state.topic = await get(base, { signal });
      renderHeader();
    } catch (error) {
      if (error.name !== 'AbortError') fail('Could not refresh the topic', error);
    }
  }

  // -- actions ------------------------------------------------------------------------------
  async function busyWith(work) {
    if (state.busy) return;
    state.busy = true;
    root.setAttribute('aria-busy', 'true');
    try {
      await work();
    } finally {
      state.busy = false;
      root.removeAttribute('aria-busy');
    }
  }

  function reveal() {
    if (!card() || state.revealed) return;
    state.revealed = true;
    renderCard();
    document.getElementById('card')?.focus({ preventScroll: true });
  }

  function rate(rating) {
    const current = card();
    if (!current || !state.revealed) return;
    return busyWith(async () => {
      for (const button of answerBar.querySelectorAll('button')) button.disabled = true;
      const name = RATINGS[rating - 1].name;
      const duration = Math.min(86_400_000, Math.round(performance.now() - state.shownAt));
      try {
        await post(`/cards/${current.id}/review`, { rating, duration_ms: duration }, { signal });
        flash(`${name} — this card comes back in ${interval(current.intervals[String(rating)])}.`);
        await loadNext();
        refreshTopic();
      } catch (error) {
        fail('Your answer was not saved', error);
        if (card()) renderCard();
      }
    });
  }

  function undo() {
    return busyWith(async () => {
      try {
        const { card: restored } = await post(`${base}/undo`, undefined, { signal });
        flash(`Undone: “${short(restored.front)}” is back as it was.`);
        await loadNext();
        refreshTopic();
      } catch (error) {
        fail('Nothing was undone', error);
      }
    });
  }

  function feedback(kind) {
    return busyWith(async () => {
      const before = state.topic && state.topic.level;
      try {
        state.topic = await post(`${base}/feedback`, { signal: kind }, { signal });
        renderHeader();
        const level = state.topic.level;
        const change = before === undefined || before === level ? `stays at ${level}/10` : `is now ${level}/10 (was ${before})`;
        flash(`Thanks. The level ${change}; new cards will be ${kind === 'too_easy' ? 'harder' : 'easier'}.`);
      } catch (error) {
        fail('Your feedback was not recorded', error);
      }
    });
  }

  function retry() {
    return busyWith(async () => {
      try {
        state.topic = await post(`${base}/generate`, undefined, { signal });
        if (state.next) state.next = { ...state.next, generation: state.topic.generation };
        flash('Asked the model for more cards.');
        render();
        wakePoll();
        if (!card()) startPolling();
      } catch (error) {
        fail('Could not ask for more cards', error);
      }
    });
  }

  function suspend() {
    const current = card();
    if (!current) return;
    return busyWith(async () => {
      try {
        await post(`/cards/${current.id}/suspend`, undefined, { signal });
        flash('Card suspended: it will not be shown again.', {
          label: 'Unsuspend',
          run: () => busyWith(async () => {
            try {
              await post(`/cards/${current.id}/unsuspend`, undefined, { signal });
              flash('Card unsuspended.');
              await loadNext();
            } catch (error) {
              fail('Could not unsuspend', error);
            }
          }),
        });
        await loadNext();
      } catch (error) {
        fail('Could not suspend the card', error);
      }
    });
  }

  function bury() {
    const current = card();
    if (!current) return;
    return busyWith(async () => {
      try {
        await post(`/cards/${current.id}/bury`, undefined, { signal });
        flash('Card buried until tomorrow.');
        await loadNext();
      } catch (error) {
        fail('Could not bury the card', error);
      }
    });
  }

  // -- the edit and flag forms -------------------------------------------------------------------
  function closePanel(refocus = true) {
    if (state.panel === null) return;
    state.panel = null;
    replace(panelSlot);
    if (refocus) document.getElementById('card')?.focus();
  }

  function openPanel(kind) {
    const current = card();
    if (!current) return;
    state.panel = kind;
    const errors = h('div');
    if (kind === 'edit') {
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
            closePanel(false);
            renderCard();
            document.getElementById('card')?.focus();
            flash('Card saved.');
          } catch (error) {
            if (error.name !== 'AbortError') replace(errors, errorBox(error.message));
          }
        });
      };
      replace(panelSlot, h('form', { class: 'panel', onsubmit: save, 'aria-labelledby': 'edit-title' },
        h('h2', { id: 'edit-title' }, 'Edit this card'),
        h('div', { class: 'field' }, h('label', { for: 'edit-front' }, 'Front (question)'), front),
        h('div', { class: 'field' }, h('label', { for: 'edit-back' }, 'Back (answer)'), back),
        errors,
        h('div', { class: 'form-row' },
          h('button', { type: 'submit', class: 'primary' }, 'Save card'),
          h('button', { type: 'button', onclick: () => closePanel() }, 'Cancel'))));
      front.focus();
    } else {
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
            closePanel(false);
            renderCard();
            document.getElementById('card')?.focus();
            flash(`Card flagged as wrong: “${short(flagged.flag_reason)}”. Thank you.`);
          } catch (error) {
            if (error.name !== 'AbortError') replace(errors, errorBox(error.message));
          }
        });
      };
      replace(panelSlot, h('form', { class: 'panel', onsubmit: send, 'aria-labelledby': 'flag-title' },
        h('h2', { id: 'flag-title' }, 'This card is wrong'),
        h('label', { for: 'flag-reason' }, 'What is wrong with it?'),
        h('p', { id: 'flag-help', class: 'hint' }, 'For example: the answer is incorrect, the question is ambiguous, it repeats another card.'),
        reason,
        errors,
        h('div', { class: 'form-row' },
          h('button', { type: 'submit', class: 'primary' }, 'Flag card'),
          h('button', { type: 'button', onclick: () => closePanel() }, 'Cancel'))));
      reason.focus();
    }
  }

  // -- the keyboard ---------------------------------------------------------------------------
  document.addEventListener('keydown', (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (event.key === 'Escape' && state.panel !== null) {
      event.preventDefault();
      closePanel();
      return;
    }
    if (typingIn(event.target)) return;
    const onControl = event.target instanceof Element && event.target.closest('button, a, summary');
    const key = event.key;
    if (key === ' ' || key === 'Enter') {
      if (onControl) return; // the focused control handles its own activation
      if (card() && !state.revealed) {
        event.preventDefault();
        reveal();
      }
      return;
    }
    if (event.repeat) return;
    if (['1', '2', '3', '4'].includes(key)) {
      if (!card()) return;
      event.preventDefault();
      if (!state.revealed) flash('Show the answer first (Space), then rate it.');
      else rate(Number(key));
    } else if (key === 'u' || key === 'U') {
      event.preventDefault();
      undo();
    } else if ((key === 'e' || key === 'E') && card()) {
      event.preventDefault();
      openPanel('edit');
    } else if ((key === 'f' || key === 'F') && card()) {
      event.preventDefault();
      openPanel('flag');
    }
  }, { signal });

  signal.addEventListener('abort', () => clearInterval(tickTimer), { once: true });

  // -- first load -------------------------------------------------------------------------------
  (async () => {
    try {
      const [topic, answer] = await Promise.all([get(base, { signal }), get(`${base}/next`, { signal })]);
      state.topic = topic;
      epoch += 1;
      apply(answer, true);
      if (!answer.card) startPolling();
    } catch (error) {
      if (error.name === 'AbortError') return;
      replace(stage, errorBox(error.status === 404
        ? 'This topic does not exist, or it is not yours.'
        : `Could not load this topic: ${error.message}`));
      if (error.status !== 404) {
        append(stage, h('button', { type: 'button', onclick: () => ctx.app.navigate(location.hash) }, 'Try again'));
      }
    }
  })();

  return root;
}
