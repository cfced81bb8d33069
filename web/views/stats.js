// Statistics: reviews per day, first-attempt success and retention, and the due forecast.

import { get, getAll } from '../api.js';
import { barChart, lineChart } from '../charts.js';
import { errorBox, h, replace } from '../dom.js';
import { day, number, percent } from '../format.js';

function table(caption, headers, rows) {
  return h('details', { class: 'data-table' },
    h('summary', {}, `${caption}: the numbers`),
    h('div', { class: 'table-scroll' },
      h('table', {},
        h('caption', { class: 'visually-hidden' }, caption),
        h('thead', {}, h('tr', {}, headers.map((name) => h('th', { scope: 'col' }, name)))),
        h('tbody', {}, rows.map((row) => h('tr', {}, row.map((cell, i) => (i === 0 ? h('th', { scope: 'row' }, cell) : h('td', {}, cell)))))))));
}

function figure(id, heading, legend, chartSlot, data) {
  return h('figure', { class: 'chart-figure', id },
    h('figcaption', {}, h('h2', {}, heading), legend),
    chartSlot,
    data);
}

export function statsView(ctx) {
  const { signal } = ctx;
  const topicSelect = h('select', { id: 'stats-topic' }, h('option', { value: '' }, 'All topics'));
  const daysSelect = h('select', { id: 'stats-days' },
    [7, 30, 90, 365].map((n) => h('option', { value: n, selected: n === 30 }, `Last ${n} days`)));
  const body = h('div', { class: 'stats-body', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading statistics…'));
  let stats = null;
  const slots = { reviews: h('div', { class: 'chart-slot' }), success: h('div', { class: 'chart-slot' }), forecast: h('div', { class: 'chart-slot' }) };

  function draw() {
    if (!stats) return;
    const width = Math.max(260, Math.floor(slots.reviews.clientWidth || body.clientWidth || 600));
    const labels = stats.days.map((d) => d.date);
    const totalReviews = stats.totals.reviews;
    replace(slots.reviews, barChart({
      width,
      labels,
      values: stats.days.map((d) => d.reviews),
      title: 'Reviews per day',
      description: `${totalReviews} reviews from ${day(labels[0])} to ${day(labels[labels.length - 1])}.`,
    }));
    replace(slots.success, lineChart({
      width,
      labels,
      series: [
        { name: 'First-attempt success', className: 'series-success', values: stats.days.map((d) => d.first_attempt_success) },
        { name: 'Retention', className: 'series-retention', values: stats.days.map((d) => d.retention) },
      ],
      title: 'First-attempt success and retention per day',
      description: `Overall first-attempt success ${percent(stats.totals.first_attempt_success)}, retention ${percent(stats.totals.retention)}.`,
    }));
    const forecastTotal = stats.forecast.reduce((sum, f) => sum + f.due, 0);
    replace(slots.forecast, barChart({
      width,
      labels: stats.forecast.map((f) => f.date),
      values: stats.forecast.map((f) => f.due),
      title: 'Cards due per day, next 30 days',
      description: `${forecastTotal} cards fall due in the next 30 days; ${stats.forecast[0].due} today, overdue ones included.`,
      barClass: 'bar bar-forecast',
    }));
  }

  function render() {
    const t = stats.totals;
    replace(body,
      h('dl', { class: 'facts totals' },
        h('div', {}, h('dt', {}, 'Reviews'), h('dd', { id: 'total-reviews' }, number(t.reviews))),
        h('div', {}, h('dt', {}, 'First-attempt success'), h('dd', {}, percent(t.first_attempt_success), h('span', { class: 'hint' }, ` of ${number(t.first_attempts)} new cards`))),
        h('div', {}, h('dt', {}, 'Retention'), h('dd', {}, percent(t.retention), h('span', { class: 'hint' }, ` of ${number(t.retention_reviews)} reviews`))),
        h('div', {}, h('dt', {}, 'Due today'), h('dd', { id: 'due-today' }, number(stats.forecast[0].due)))),
      figure('chart-reviews', 'Reviews per day', null, slots.reviews,
        table('Reviews per day', ['Day', 'Reviews'], stats.days.map((d) => [day(d.date), d.reviews]))),
      figure('chart-success', 'First-attempt success and retention',
        h('p', { class: 'legend' },
          h('span', { class: 'key key-success', 'aria-hidden': 'true' }), 'First-attempt success (Hard counts half) ',
          h('span', { class: 'key key-retention', 'aria-hidden': 'true' }), 'Retention of review cards'),
        slots.success,
        table('First-attempt success and retention', ['Day', 'First attempts', 'Success', 'Reviews', 'Retention'],
          stats.days.map((d) => [day(d.date), d.first_attempts, percent(d.first_attempt_success), d.retention_reviews, percent(d.retention)]))),
      figure('chart-forecast', 'Due forecast', h('p', { class: 'hint' }, `Days in your time zone (${stats.timezone}); overdue cards count today.`), slots.forecast,
        table('Due forecast', ['Day', 'Cards due'], stats.forecast.map((f) => [day(f.date), f.due]))));
    draw();
  }

  async function load() {
    body.setAttribute('aria-busy', 'true');
    const query = new URLSearchParams({ days: daysSelect.value });
    if (topicSelect.value) query.set('topic_id', topicSelect.value);
    try {
      stats = await get(`/stats?${query}`, { signal });
      render();
    } catch (error) {
      if (error.name === 'AbortError') return;
      replace(body, errorBox(`Could not load statistics: ${error.message}`));
    } finally {
      body.setAttribute('aria-busy', 'false');
    }
  }

  topicSelect.addEventListener('change', load);
  daysSelect.addEventListener('change', load);

  let frameRequest = 0;
  let lastWidth = 0;
  const observer = new ResizeObserver(() => {
    const width = slots.reviews.clientWidth;
    if (!width || width === lastWidth) return;
    lastWidth = width;
    cancelAnimationFrame(frameRequest);
    frameRequest = requestAnimationFrame(draw);
  });
  observer.observe(slots.reviews);
  signal.addEventListener('abort', () => observer.disconnect(), { once: true });

  (async () => {
    try {
      const topics = await getAll('/topics', { signal });
      for (const topic of topics) topicSelect.append(h('option', { value: topic.id }, topic.title));
    } catch (error) {
      if (error.name === 'AbortError') return;
    }
  })();
  load();

  return h('section', { class: 'stats' },
    h('h1', {}, 'Statistics'),
    h('form', { class: 'filters', onsubmit: (e) => e.preventDefault() },
      h('div', { class: 'field' }, h('label', { for: 'stats-topic' }, 'Topic'), topicSelect),
      h('div', { class: 'field' }, h('label', { for: 'stats-days' }, 'Period'), daysSelect)),
    body);
}
