// The study screen: one card at a time, keyboard first, and an honest account of generation.
// Put together from study/render.js (the page), study/poll.js (loading and long-polling),
// study/actions.js (answers and card actions), study/panels.js (edit and flag forms) and
// study/keys.js (the keyboard). They share one `view`: the state and each other.

import { append, errorBox, h, replace } from '../dom.js';
import { createActions } from './study/actions.js';
import { bindKeys } from './study/keys.js';
import { createPanels } from './study/panels.js';
import { createPoller } from './study/poll.js';
import { createScreen } from './study/render.js';

export function studyView(ctx, topicId) {
  const view = {
    ctx,
    signal: ctx.signal,
    topicId,
    base: `/topics/${topicId}`,
    state: {
      topic: null,
      next: null, // the last answer of GET /next
      revealed: false,
      shownAt: 0,
      busy: false,
      panel: null, // 'edit' | 'flag' | null
      pendingReview: null, // {cardId, id}: the review_id of an answer not yet saved
    },
  };
  // Each part reaches the others through `view`; the order only matters for what a part
  // reads when it is made (the poller and the actions read the screen).
  view.screen = createScreen(view);
  view.panels = createPanels(view);
  view.poll = createPoller(view);
  view.actions = createActions(view);
  bindKeys(view);

  view.poll.start().catch((error) => {
    if (error.name === 'AbortError') return;
    const stage = view.screen.stage;
    replace(stage, errorBox(error.status === 404
      ? 'This topic does not exist, or it is not yours.'
      : `Could not load this topic: ${error.message}`));
    if (error.status !== 404) {
      append(stage, h('button', { type: 'button', onclick: () => ctx.app.navigate(location.hash) }, 'Try again'));
    }
  });

  return view.screen.root;
}
