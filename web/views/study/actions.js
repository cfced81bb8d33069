// What the learner does on the study screen: show the answer, rate it, undo, give feedback on
// the level, ask for more cards, suspend and bury. (Editing and flagging open forms: panels.js.)

import { post } from '../../api.js';
import { sleep } from '../../dom.js';
import { RATINGS, interval } from '../../format.js';
import { short } from './render.js';

// An answer that did not reach the server is sent again, with the same review_id, so the
// server can tell a retry from a second answer.
const REVIEW_RETRY_DELAYS_MS = [500, 1500, 4000];

/** A random (v4) UUID. crypto.randomUUID exists only on https and localhost pages. */
export function newReviewId() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Worth sending again: the network failed, or the server was briefly unable to answer. */
function transient(error) {
  return error.status === 0 || error.status === 408 || error.status === 429 || error.status >= 500;
}

export function createActions(view) {
  const { signal, state, base, screen, poll } = view;
  const card = screen.card;

  async function busyWith(work) {
    if (state.busy) return;
    state.busy = true;
    screen.root.setAttribute('aria-busy', 'true');
    try {
      await work();
    } finally {
      state.busy = false;
      screen.root.removeAttribute('aria-busy');
    }
  }

  function reveal() {
    if (!card() || state.revealed) return;
    state.revealed = true;
    screen.renderCard();
    document.getElementById('card')?.focus({ preventScroll: true });
  }

  /** One id per showing of a card: kept until the answer is saved, whatever the retries. */
  function reviewIdFor(current) {
    if (!state.pendingReview || state.pendingReview.cardId !== current.id) {
      state.pendingReview = { cardId: current.id, id: newReviewId() };
    }
    return state.pendingReview.id;
  }

  /** The answer and, in the same round trip, the topic's next card (`?next=1`). */
  async function sendReview(current, body) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await post(`/cards/${current.id}/review?next=1`, body, { signal });
      } catch (error) {
        if (error.name === 'AbortError' || !transient(error) || attempt >= REVIEW_RETRY_DELAYS_MS.length) throw error;
        screen.flash('Saving your answer again…');
        await sleep(REVIEW_RETRY_DELAYS_MS[attempt], signal);
      }
    }
  }

  function rate(rating) {
    const current = card();
    if (!current || !state.revealed) return;
    return busyWith(async () => {
      for (const button of screen.answerBar.querySelectorAll('button')) button.disabled = true;
      const name = RATINGS[rating - 1].name;
      const duration = Math.min(86_400_000, Math.round(performance.now() - state.shownAt));
      try {
        const answer = await sendReview(current, { rating, duration_ms: duration, review_id: reviewIdFor(current) });
        state.pendingReview = null;
        screen.flash(`${name} — this card comes back in ${interval(current.intervals[String(rating)])}.`);
        poll.show(answer.next);
      } catch (error) {
        screen.fail('Your answer was not saved', error);
        if (card()) screen.renderCard();
      }
    });
  }

  function undo() {
    return busyWith(async () => {
      try {
        const { card: restored } = await post(`${base}/undo`, undefined, { signal });
        screen.flash(`Undone: “${short(restored.front)}” is back as it was.`);
        await poll.loadNext();
      } catch (error) {
        screen.fail('Nothing was undone', error);
      }
    });
  }

  function feedback(kind) {
    return busyWith(async () => {
      const before = state.topic && state.topic.level;
      try {
        state.topic = await post(`${base}/feedback`, { signal: kind }, { signal });
        screen.renderHeader();
        const level = state.topic.level;
        const change = before === undefined || before === level ? `stays at ${level}/10` : `is now ${level}/10 (was ${before})`;
        screen.flash(`Thanks. The level ${change}; new cards will be ${kind === 'too_easy' ? 'harder' : 'easier'}.`);
      } catch (error) {
        screen.fail('Your feedback was not recorded', error);
      }
    });
  }

  function retry() {
    return busyWith(async () => {
      try {
        state.topic = await post(`${base}/generate`, undefined, { signal });
        if (state.next) state.next = { ...state.next, generation: state.topic.generation };
        screen.flash('Asked the model for more cards.');
        screen.render();
        poll.wake();
        if (!card()) poll.startPolling();
      } catch (error) {
        screen.fail('Could not ask for more cards', error);
      }
    });
  }

  function suspend() {
    const current = card();
    if (!current) return;
    return busyWith(async () => {
      try {
        await post(`/cards/${current.id}/suspend`, undefined, { signal });
        screen.flash('Card suspended: it will not be shown again.', {
          label: 'Unsuspend',
          run: () => busyWith(async () => {
            try {
              await post(`/cards/${current.id}/unsuspend`, undefined, { signal });
              screen.flash('Card unsuspended.');
              await poll.loadNext();
            } catch (error) {
              screen.fail('Could not unsuspend', error);
            }
          }),
        });
        await poll.loadNext();
      } catch (error) {
        screen.fail('Could not suspend the card', error);
      }
    });
  }

  function bury() {
    const current = card();
    if (!current) return;
    return busyWith(async () => {
      try {
        await post(`/cards/${current.id}/bury`, undefined, { signal });
        screen.flash('Card buried until tomorrow.');
        await poll.loadNext();
      } catch (error) {
        screen.fail('Could not bury the card', error);
      }
    });
  }

  return { busyWith, reveal, rate, undo, feedback, retry, suspend, bury };
}
