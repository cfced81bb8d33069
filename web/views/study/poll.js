// Loading the next card, and the long-poll (`next?wait=`) that waits for one while none is
// ready: a generated card arriving, or a learning card falling due.

import { get } from '../../api.js';
import { errorBox, replace } from '../../dom.js';
import { ACTIVE } from './render.js';

const LONG_POLL_SECONDS = 25;

export function createPoller(view) {
  const { signal, state, base } = view;
  const screen = view.screen;
  let epoch = 0; // bumped by every direct load, so a stale long-poll answer is ignored
  let pollController = null;
  let wakePoll = () => {};
  let tickTimer = 0;
  let polling = false;

  /** Show an answer of GET /next; `fresh` (a direct load) always shows its card anew. */
  function apply(answer, fresh) {
    const before = screen.card();
    const beforeStatus = screen.generation().status;
    state.next = answer;
    if (state.topic && (state.topic.level !== answer.level || state.topic.recent_success !== answer.recent_success)) {
      // The answer carries the header's level line: no GET of the topic per step.
      state.topic = { ...state.topic, level: answer.level, recent_success: answer.recent_success };
    }
    const now = screen.card();
    const newCard = now && (fresh || !before || before.id !== now.id);
    if (newCard) {
      state.revealed = false;
      state.shownAt = performance.now();
      view.panels.close(false);
    }
    screen.render();
    if (newCard) screen.focusIfIdle(document.getElementById('card'));
    if (!now && beforeStatus !== screen.generation().status && screen.generation().status === 'failed') {
      screen.focusIfIdle(screen.stage.querySelector('.retry'));
    }
    clearInterval(tickTimer);
    if (!now && answer.next_due) tickTimer = setInterval(() => { if (!screen.card()) screen.renderWaiting(); }, 20000);
  }

  async function loadNext() {
    stopPolling(); // a long-poll answer arriving meanwhile is stale
    show(await get(`${base}/next`, { signal }));
  }

  function stopPolling() {
    epoch += 1;
    pollController?.abort();
    wakePoll();
  }

  /** Show a fresh answer of GET /next (or the `next` of an answered review) in place of
   * whatever a long-poll is waiting for. */
  function show(answer) {
    stopPolling();
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

  async function startPolling() {
    if (polling) return;
    polling = true;
    let failures = 0;
    try {
      while (!signal.aborted && !screen.card()) {
        const mine = epoch;
        pollController = new AbortController();
        const stop = () => pollController.abort();
        signal.addEventListener('abort', stop, { once: true });
        const started = Date.now();
        try {
          const answer = await get(`${base}/next?wait=${LONG_POLL_SECONDS}&changes=1`, { signal: pollController.signal });
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
            replace(screen.stage, errorBox(error.status === 404 ? 'This topic no longer exists.' : error.message));
            return; // asking again would get the same answer (a 401 already shows the login)
          }
          failures += 1;
          replace(screen.alerts, errorBox(`Lost contact with the server (${error.message}). Trying again…`));
          await nap(Math.min(30000, 1000 * 2 ** failures));
          replace(screen.alerts);
        } finally {
          signal.removeEventListener('abort', stop);
        }
      }
    } finally {
      polling = false;
    }
  }

  /** The first load: the topic and its next card together. */
  async function start() {
    const [topic, answer] = await Promise.all([get(base, { signal }), get(`${base}/next`, { signal })]);
    state.topic = topic;
    epoch += 1;
    apply(answer, true);
    if (!answer.card) startPolling();
  }

  signal.addEventListener('abort', () => clearInterval(tickTimer), { once: true });

  return {
    start,
    loadNext,
    show,
    startPolling,
    wake: () => wakePoll(),
  };
}
