// Small inline SVG charts, drawn at the container's real width so the text stays readable.
// Colours and strokes come from classes in style.css (no inline styles under the CSP).

import { s } from './dom.js';
import { day } from './format.js';

const HEIGHT = 190;
const MARGIN = { top: 12, right: 10, bottom: 26, left: 38 };
let chartIds = 0;

function niceMax(value) {
  if (value <= 4) return 4;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= value) return step * magnitude;
  }
  return 10 * magnitude;
}

function frame(width, title, description) {
  const id = `chart-${++chartIds}`;
  return s('svg', {
    class: 'chart',
    width,
    height: HEIGHT,
    viewBox: `0 0 ${width} ${HEIGHT}`,
    role: 'img',
    'aria-labelledby': `${id}-title ${id}-desc`,
  }, s('title', { id: `${id}-title` }, title), s('desc', { id: `${id}-desc` }, description));
}

function xLabels(svg, labels, x, plotBottom) {
  // First, last and a few in between: enough to read the dates without overlap.
  const wanted = Math.max(2, Math.min(6, Math.floor((x(labels.length - 1) - x(0)) / 70) + 1));
  const step = (labels.length - 1) / (wanted - 1);
  const shown = new Set();
  for (let i = 0; i < wanted; i += 1) shown.add(Math.round(i * step));
  for (const index of shown) {
    if (index < 0 || index >= labels.length) continue;
    const anchor = index === 0 ? 'start' : index === labels.length - 1 ? 'end' : 'middle';
    svg.append(s('text', { class: 'axis-label', x: x(index), y: plotBottom + 18, 'text-anchor': anchor }, day(labels[index])));
  }
}

function yAxis(svg, width, top, bottom, max, format) {
  for (const fraction of [0, 0.5, 1]) {
    const y = bottom - (bottom - top) * fraction;
    svg.append(s('line', { class: fraction === 0 ? 'axis' : 'grid', x1: MARGIN.left, x2: width - MARGIN.right, y1: y, y2: y }));
    svg.append(s('text', { class: 'axis-label', x: MARGIN.left - 6, y: y + 4, 'text-anchor': 'end' }, format(max * fraction)));
  }
}

/** Bars, one per day. `values` are counts. */
export function barChart({ width, labels, values, title, description, barClass = 'bar' }) {
  const svg = frame(width, title, description);
  const top = MARGIN.top;
  const bottom = HEIGHT - MARGIN.bottom;
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const max = niceMax(Math.max(0, ...values));
  const slot = plotWidth / Math.max(1, values.length);
  const x = (i) => MARGIN.left + slot * (i + 0.5);
  yAxis(svg, width, top, bottom, max, (v) => String(Math.round(v)));
  values.forEach((value, i) => {
    const height = ((bottom - top) * value) / max;
    const barWidth = Math.max(1, slot * 0.7);
    svg.append(s('rect', {
      class: barClass,
      x: x(i) - barWidth / 2,
      y: bottom - height,
      width: barWidth,
      height: Math.max(0, height),
    }, s('title', {}, `${day(labels[i])}: ${value}`)));
  });
  xLabels(svg, labels, x, bottom);
  return svg;
}

/** Lines of shares (0 to 1) per day; null values leave a gap. */
export function lineChart({ width, labels, series, title, description }) {
  const svg = frame(width, title, description);
  const top = MARGIN.top;
  const bottom = HEIGHT - MARGIN.bottom;
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const slot = plotWidth / Math.max(1, labels.length);
  const x = (i) => MARGIN.left + slot * (i + 0.5);
  const y = (v) => bottom - (bottom - top) * v;
  yAxis(svg, width, top, bottom, 1, (v) => `${Math.round(v * 100)}%`);
  for (const line of series) {
    let path = '';
    let drawing = false;
    line.values.forEach((value, i) => {
      if (value === null || value === undefined) {
        drawing = false;
        return;
      }
      path += `${drawing ? 'L' : 'M'}${x(i).toFixed(1)},${y(value).toFixed(1)} `;
      drawing = true;
    });
    if (path) svg.append(s('path', { class: `line ${line.className}`, d: path.trim() }));
    line.values.forEach((value, i) => {
      if (value === null || value === undefined) return;
      svg.append(s('circle', { class: `dot ${line.className}`, cx: x(i), cy: y(value), r: 3 },
        s('title', {}, `${line.name}, ${day(labels[i])}: ${Math.round(value * 100)}%`)));
    });
  }
  xLabels(svg, labels, x, bottom);
  return svg;
}
