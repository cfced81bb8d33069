// This period's usage and the way to a bigger plan. Shows only what the server reports.

import { ApiError, get, post } from '../api.js';
import { announce, errorBox, h, replace } from '../dom.js';
import { day, number } from '../format.js';

/** The Pro plan's monthly cards, if the server tells us (never guessed). */
function proCards(usage) {
  const plans = usage.plans;
  const pro = Array.isArray(plans) ? plans.find((p) => p && p.name === 'pro') : plans && plans.pro;
  const value = pro && (pro.cards_per_period ?? pro.cards);
  return Number.isFinite(value) ? value : null;
}

function adminHint(email) {
  return ['An admin can change your plan: ', h('code', {}, `srs plans set ${email || 'EMAIL'} pro`), '.'];
}

/** Only a web address may be followed (never a javascript: or data: URL). */
function webAddress(url) {
  try {
    const parsed = new URL(url, location.href);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : null;
  } catch {
    return null;
  }
}

/** "Upgrade" (free plan) opens Stripe Checkout; "Manage billing" (Pro) the customer portal. */
function billing(usage, email) {
  const pro = usage.plan === 'pro';
  const cards = proCards(usage);
  const button = h('button', { type: 'button', class: 'primary', id: pro ? 'manage-billing' : 'upgrade' },
    pro ? 'Manage billing' : 'Upgrade to Pro');
  const note = h('div', { id: 'billing-note' });

  function notConfigured(message) {
    button.disabled = true;
    button.textContent = pro ? 'Manage billing: billing is not configured' : 'Upgrade: billing is not configured';
    replace(note, h('p', { class: 'hint', id: 'billing-not-configured' },
      `Billing is not configured on this server (${message}), so it cannot take payments here. `, adminHint(email)));
  }

  button.addEventListener('click', async () => {
    replace(note);
    button.disabled = true;
    button.textContent = pro ? 'Opening billing…' : 'Opening checkout…';
    try {
      const answer = await post(pro ? '/billing/portal' : '/billing/checkout');
      const url = webAddress(answer && answer.url);
      if (!url) throw new ApiError(502, 'bad_answer', 'the server gave no usable payment page address');
      announce(pro ? 'Opening the billing portal' : 'Opening checkout');
      location.assign(url);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'billing_not_configured') {
        notConfigured(error.message);
        return;
      }
      replace(note, errorBox(`Could not open ${pro ? 'billing' : 'checkout'}: ${error.message}`));
      button.disabled = false;
      button.textContent = pro ? 'Manage billing' : 'Upgrade to Pro';
    }
  });

  const section = h('div', { class: 'upgrade billing' },
    pro
      ? h('p', {}, 'You are on the Pro plan.')
      : h('p', {}, cards === null ? 'Pro: more cards a month.' : `Pro: ${number(cards)} cards a month.`),
    button,
    note);
  if (usage.billing && usage.billing.configured === false) notConfigured('no Stripe keys');
  return section;
}

/** The refund rule for flagged cards, and how much of this period's allowance is used. */
function refundsPart(refunds) {
  if (!refunds) return null;
  const rule = typeof refunds.rule === 'string' && refunds.rule
    ? refunds.rule
    : 'A generated card you flag as wrong soon after it was written is given back to your quota, up to a cap each period. A flagged card leaves the study queue; undoing the flag counts a refunded card again.';
  return h('section', { id: 'refunds' },
    h('h2', {}, 'Refunds for flagged cards'),
    h('p', {}, rule),
    h('p', { id: 'usage-refunds' }, `${number(refunds.used)} of ${number(refunds.limit)} refunds used this period.`));
}

/** Sources added this period (their size and PDF pages), against the plan's limits. */
function sourcesPart(sources) {
  if (!sources) return null;
  const size = (bytes) => {
    if (bytes < 1024) return `${number(bytes)} bytes`;
    if (bytes < 1024 * 1024) return `${number(Math.round(bytes / 1024))} KB`;
    return `${(bytes / (1024 * 1024)).toLocaleString(undefined, { maximumFractionDigits: 1 })} MB`;
  };
  const of = (used, limit, show) => (limit === null ? `${show(used)} (no limit)` : `${show(used)} of ${show(limit)}`);
  return [
    h('div', {}, h('dt', {}, 'Sources size'), h('dd', { id: 'usage-source-bytes' }, of(sources.bytes_used, sources.bytes_limit, size))),
    h('div', {}, h('dt', {}, 'Source pages'), h('dd', { id: 'usage-source-pages' }, of(sources.pages_used, sources.pages_limit, number),
      h('span', { class: 'hint' }, ' (PDF pages; a deleted source still counts until the period ends)'))),
  ];
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
      sourcesPart(usage.sources),
      h('div', {}, h('dt', {}, 'LLM tokens'), h('dd', {}, `${number(tokens.input)} in · ${number(tokens.output)} out`,
        tokens.estimated ? h('span', { class: 'hint' }, ' (partly estimated: the provider did not report all of them)') : null))),
    h('div', { class: 'meter' },
      h('label', { for: 'cards-meter' }, `${number(left)} cards left this period`,
        reserved > 0 ? h('span', { class: 'hint' }, ` · ${number(reserved)} held by batches being written now`) : null),
      h('progress', { id: 'cards-meter', max: Math.max(1, cards.limit), value: Math.min(cards.used + reserved, cards.limit) })),
    left === 0
      ? h('p', { class: 'banner warning' }, 'This period’s cards are used up: no new cards are written until it resets, but every existing card can still be studied.')
      : null,
    billing(usage, email),
    refundsPart(usage.refunds),
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
          billing({ plan: ctx.app.user && ctx.app.user.plan }, email));
      } else {
        replace(body, errorBox(`Could not load usage: ${error.message}`));
      }
    } finally {
      body.setAttribute('aria-busy', 'false');
    }
  })();
  return h('section', { class: 'usage narrow' }, h('h1', {}, 'Usage'), body);
}
