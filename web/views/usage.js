// This period's usage and the way to a bigger plan. Shows only what the server reports.

import { get } from '../api.js';
import { errorBox, h, replace } from '../dom.js';
import { day, number } from '../format.js';

/** The Pro plan's monthly cards, if the server tells us (never guessed). */
function proCards(usage) {
  const plans = usage.plans;
  const pro = Array.isArray(plans) ? plans.find((p) => p && p.name === 'pro') : plans && plans.pro;
  const value = pro && (pro.cards_per_period ?? pro.cards);
  return Number.isFinite(value) ? value : null;
}

function upgradeText(email, cards) {
  return h('p', { class: 'upgrade' },
    cards === null ? 'Pro: more cards a month' : `Pro: ${number(cards)} cards a month`,
    ' — ask an admin: ', h('code', {}, `srs plans set ${email || 'EMAIL'} pro`));
}

const dateOf = (iso) => day(iso.slice(0, 10), { dateStyle: 'medium' });

function render(usage, email) {
  const { cards, tokens, topics } = usage;
  const reserved = cards.reserved || 0;
  const left = Math.max(0, cards.limit - cards.used - reserved);
  const past = usage.past_periods || [];
  return [
    h('dl', { class: 'facts' },
      h('div', {}, h('dt', {}, 'Plan'), h('dd', { id: 'usage-plan' }, usage.plan_title || usage.plan)),
      h('div', {}, h('dt', {}, 'This period'), h('dd', {}, `${dateOf(usage.period_start)} – ${dateOf(usage.period_end)}`)),
      h('div', {}, h('dt', {}, 'Cards generated'), h('dd', { id: 'usage-cards' }, `${number(cards.used)} of ${number(cards.limit)}`)),
      topics ? h('div', {}, h('dt', {}, 'Topics'), h('dd', {}, topics.limit === null ? `${number(topics.active)} (no limit)` : `${number(topics.active)} of ${number(topics.limit)}`)) : null,
      h('div', {}, h('dt', {}, 'LLM tokens'), h('dd', {}, `${number(tokens.input)} in · ${number(tokens.output)} out`,
        tokens.estimated ? h('span', { class: 'hint' }, ' (partly estimated: the provider did not report all of them)') : null))),
    h('div', { class: 'meter' },
      h('label', { for: 'cards-meter' }, `${number(left)} cards left this period`,
        reserved > 0 ? h('span', { class: 'hint' }, ` · ${number(reserved)} held by batches being written now`) : null),
      h('progress', { id: 'cards-meter', max: Math.max(1, cards.limit), value: Math.min(cards.used + reserved, cards.limit) })),
    left === 0
      ? h('p', { class: 'banner warning' }, 'This period’s cards are used up: no new cards are written until it resets, but every existing card can still be studied.')
      : null,
    usage.plan === 'pro' ? h('p', {}, 'You are on the Pro plan.') : upgradeText(email, proCards(usage)),
    past.length
      ? h('section', {},
        h('h2', {}, 'Earlier periods'),
        h('div', { class: 'table-scroll' }, h('table', {},
          h('thead', {}, h('tr', {}, ['Period from', 'Cards', 'Tokens in', 'Tokens out'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, past.map((p) => h('tr', {},
            h('th', { scope: 'row' }, dateOf(p.period_start)),
            h('td', {}, number(p.cards_used)), h('td', {}, number(p.tokens_in)), h('td', {}, number(p.tokens_out))))))))
      : null,
  ];
}

export function usageView(ctx) {
  const body = h('div', { 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading usage…'));
  const email = ctx.app.user && ctx.app.user.email;
  (async () => {
    try {
      const usage = await get('/usage', { signal: ctx.signal });
      replace(body, render(usage, email));
    } catch (error) {
      if (error.name === 'AbortError') return;
      if (error.status === 404) {
        replace(body,
          h('p', { class: 'banner notice', id: 'usage-unavailable' }, 'Usage is unavailable: this server does not report usage yet, so no numbers are shown.'),
          upgradeText(email, null));
      } else {
        replace(body, errorBox(`Could not load usage: ${error.message}`));
      }
    } finally {
      body.setAttribute('aria-busy', 'false');
    }
  })();
  return h('section', { class: 'usage narrow' }, h('h1', {}, 'Usage'), body);
}
