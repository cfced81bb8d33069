// The study screen's page and how it is drawn: the header, the counts, the banners, the card,
// or what to say while no card is ready. Draws only; what the buttons do is in actions.js.

import { clozeNodes } from '../../cloze.js';
import { errorBox, h, replace } from '../../dom.js';
import { RATINGS, interval, percent, until } from '../../format.js';
import { outlineSection } from '../outline.js';
import { sourceLine, sourcesSection } from '../sources.js';
import { heldSection } from '../held.js';
import { exportLinks } from '../topics.js';

export const ACTIVE = new Set(['queued', 'running']);

export function short(text, max = 60) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function kbd(key) {
  return h('kbd', {}, key);
}

/** "about 40 s", "about 2 min": an estimate is shown no finer than it can be trusted. */
export function etaText(seconds) {
  const secs = Math.max(0, Math.round(seconds));
  if (secs <= 1) return 'Next cards any moment now';
  if (secs < 10) return `Next cards in about ${secs} s`;
  if (secs < 60) return `Next cards in about ${Math.round(secs / 5) * 5} s`;
  const minutes = Math.round(secs / 60);
  return `Next cards in about ${minutes} min`;
}

/** Builds the page and returns its parts with the functions that draw into them. */
export function createScreen(view) {
  const { state } = view;
  const act = (name, ...args) => () => view.actions[name](...args);

  // -- the page's fixed parts ----------------------------------------------------------------
  const title = h('h1', { id: 'study-title' }, 'Study');
  const levelLine = h('p', { class: 'level-line', id: 'level-line' });
  const counts = h('dl', { class: 'counts today', 'aria-label': "Today's counts" });
  const exportsSlot = h('div');
  const feedbackButtons = h('div', { class: 'feedback', role: 'group', 'aria-labelledby': 'feedback-label' },
    h('span', { class: 'feedback-label', id: 'feedback-label' }, 'New cards are'),
    h('button', { type: 'button', id: 'too-easy', onclick: act('feedback', 'too_easy') }, 'Too easy'),
    h('button', { type: 'button', id: 'too-hard', onclick: act('feedback', 'too_hard') }, 'Too hard'));
  const banners = h('div', { class: 'banners' });
  const flashLine = h('p', { class: 'flash', role: 'status', 'aria-live': 'polite' });
  const alerts = h('div', { class: 'alerts' });
  const stage = h('div', { class: 'card-stage', 'aria-live': 'polite' }, h('p', { class: 'loading' }, 'Loading…'));
  const answerBar = h('div', { class: 'answer-bar' });
  const tools = h('div', { class: 'card-tools' });
  const panelSlot = h('div', { class: 'panel-slot' });

  const root = h('section', { class: 'study', 'aria-labelledby': 'study-title' },
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/topics' }, '← All topics'), ' · ',
      h('a', { href: `#/topics/${view.topicId}/cards` }, 'Browse this topic’s cards')),
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
    outlineSection(view.ctx, view.topicId),
    sourcesSection(view.ctx, view.topicId),
    heldSection(view.ctx, view.topicId, () => { if (!view.state.next?.card) view.poll.loadNext(); }),
    h('details', { class: 'shortcuts' },
      h('summary', {}, 'Keyboard shortcuts'),
      h('ul', {},
        h('li', {}, kbd('Space'), ' or ', kbd('Enter'), ' show the answer'),
        h('li', {}, kbd('1'), ' Again · ', kbd('2'), ' Hard · ', kbd('3'), ' Good · ', kbd('4'), ' Easy'),
        h('li', {}, kbd('U'), ' undo the last answer'),
        h('li', {}, kbd('E'), ' edit the card · ', kbd('F'), ' flag it as wrong · ', kbd('Esc'), ' close a form'),
        h('li', {}, kbd('R'), ' rewrite a leech (a card you keep failing), then ', kbd('A'), ' accept the proposal'))));

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

  // -- what is on screen --------------------------------------------------------------------
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
      const plan = (view.ctx.app.user && view.ctx.app.user.plan) || 'current';
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
        h('button', { type: 'button', class: 'retry', onclick: act('retry') }, 'Retry')));
    }
    if (current && current.model_notice) {
      // The server words the notice for the model that wrote this card (see srs/llm/local.py).
      items.push(h('aside', { class: 'banner notice model-notice', 'aria-label': 'About these cards' },
        h('p', {}, current.model_notice)));
    }
    replace(banners, items);
  }

  function waitingBody() {
    const answer = state.next;
    const gen = generation();
    if (ACTIVE.has(gen.status)) {
      const flight = gen.step === 'outline' ? 'writing an outline of the topic first'
        : gen.cards_in_flight > 0 ? `${gen.cards_in_flight} cards on the way` : 'asking for cards';
      const eta = Number.isInteger(gen.eta_seconds) ? etaText(gen.eta_seconds) : null;
      return h('div', { class: 'waiting generating', id: 'generating' },
        h('span', { class: 'spinner', 'aria-hidden': 'true' }),
        h('h2', { id: eta ? 'generation-eta' : null }, eta || 'Generating cards…'),
        h('p', { class: 'progress-line' }, `${flight} · ${gen.status === 'queued' ? 'waiting for the model' : 'the model is writing'}`),
        h('p', { class: 'hint' }, 'The first card appears here by itself as soon as it is written.'));
    }
    if (gen.status === 'failed') {
      return h('div', { class: 'waiting failed', id: 'generation-failed' },
        h('h2', {}, 'Card generation failed'),
        h('p', { class: 'error', id: 'generation-error' }, gen.error || 'The model did not deliver cards.'),
        h('button', { type: 'button', class: 'primary retry', onclick: act('retry') }, 'Retry'));
    }
    if (answer && answer.new_limit_reached) {
      return h('div', { class: 'waiting done' },
        h('h2', {}, 'Daily new-card limit reached'),
        h('p', {}, answer.next_due
          ? `New cards continue tomorrow. Next review card in ${until(answer.next_due)}.`
          : 'New cards continue tomorrow.'));
    }
    if (gen.status === 'quota_exceeded') {
      return h('div', { class: 'waiting done' },
        h('h2', {}, 'No cards to study right now'),
        h('p', {}, answer && answer.next_due ? `Next card in ${until(answer.next_due)}.` : 'The monthly card quota is used up; see the banner above.'));
    }
    if (answer && answer.next_due) {
      return h('div', { class: 'waiting done' },
        h('h2', {}, 'All caught up'),
        h('p', { id: 'next-due' }, `Next card in ${until(answer.next_due)}.`));
    }
    if (gen.status === 'paused') {
      return h('div', { class: 'waiting empty', id: 'generation-paused' },
        h('h2', {}, 'No cards ready'),
        h('p', {}, state.topic && state.topic.archived
          ? 'This topic is archived, so no new cards are written.'
          : 'Writing new cards is turned off for this topic.'),
        h('a', { href: '#/topics', class: 'button' }, 'Change it on the topics page'));
    }
    return h('div', { class: 'waiting empty' },
      h('h2', {}, 'No cards ready'),
      h('button', { type: 'button', class: 'primary', onclick: act('retry') }, 'Generate more cards'));
  }

  function renderWaiting() {
    const body = waitingBody();
    // Redraw only what changed, and keep keyboard focus on the same control when it is redrawn.
    const key = JSON.stringify([body.className, body.textContent]);
    if (stage.dataset.key === key) return;
    const focusedClass = stage.contains(document.activeElement) ? document.activeElement.className : null;
    stage.dataset.key = key;
    replace(stage, body);
    replace(answerBar);
    replace(tools, undoButton());
    view.panels.close(false);
    if (focusedClass) {
      const again = [...stage.querySelectorAll('button')].find((b) => b.className === focusedClass);
      again?.focus();
    }
  }

  function undoButton() {
    return h('button', { type: 'button', onclick: act('undo'), 'aria-keyshortcuts': 'U' }, 'Undo last answer ', kbd('U'));
  }

  function renderCard() {
    const current = card();
    const cloze = current.type === 'cloze' && current.text;
    // A cloze card shows its text with a gap, then the whole text with the answer marked.
    const front = cloze ? clozeNodes(current, false) : current.front;
    const back = cloze ? clozeNodes(current, true) : current.back;
    const article = h('article', {
      class: `card${state.revealed ? ' revealed' : ''}`,
      id: 'card',
      tabindex: '-1',
      'aria-label': state.revealed ? 'Card, answer shown' : 'Card, question',
    },
    h('p', { class: 'card-label' }, cloze ? 'Fill the gap' : 'Question'),
    h('div', { class: `card-front${cloze ? ' cloze' : ''}`, id: 'card-front' }, front),
    state.revealed
      ? [h('hr'), h('p', { class: 'card-label' }, 'Answer'), h('div', { class: `card-back${cloze ? ' cloze' : ''}`, id: 'card-back' }, back)]
      : null,
    current.flag_reason ? h('p', { class: 'flagged-note' }, `You flagged this card: ${current.flag_reason}`) : null,
    current.leech ? h('p', { class: 'leech-note' }, `A leech: you have failed this card ${current.lapses} times. A clearer card may help (R).`) : null,
    h('p', { class: 'card-meta' }, `${current.state}${current.level ? ` · level ${current.level}` : ''}${current.model ? ` · ${current.model}` : ' · written by hand'}`),
    sourceLine(current, view.ctx.signal));
    stage.dataset.key = '';
    replace(stage, article);

    if (!state.revealed) {
      replace(answerBar, h('button', { type: 'button', class: 'primary show-answer', onclick: act('reveal'), 'aria-keyshortcuts': 'Space Enter' },
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
            onclick: act('rate', value),
          }, h('span', { class: 'rate-name' }, name), h('span', { class: 'rate-interval' }, next), kbd(String(value)));
        })));
    }
    replace(tools,
      undoButton(),
      h('button', { type: 'button', onclick: () => view.panels.open('edit'), 'aria-keyshortcuts': 'E' }, 'Edit ', kbd('E')),
      h('button', { type: 'button', onclick: act('suspend') }, 'Suspend'),
      h('button', { type: 'button', onclick: act('bury') }, 'Bury until tomorrow'),
      h('button', { type: 'button', onclick: () => view.panels.open('flag'), 'aria-keyshortcuts': 'F' }, 'This card is wrong ', kbd('F')),
      current.leech
        ? h('button', { type: 'button', id: 'rewrite-card', onclick: () => view.panels.open('rewrite'), 'aria-keyshortcuts': 'R' }, 'Rewrite this card ', kbd('R'))
        : null);
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

  return {
    root, stage, answerBar, alerts, panelSlot,
    flash, fail, card, generation, focusIfIdle,
    render, renderHeader, renderCard, renderWaiting,
  };
}
