// Tiny DOM helpers. Text always goes in as text nodes, never as HTML, and no inline styles
// (the Content-Security-Policy forbids them): looks come from classes in style.css.

const SVG_NS = 'http://www.w3.org/2000/svg';

export function append(parent, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

function build(element, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (value === true) {
      element.setAttribute(name, '');
    } else {
      element.setAttribute(name, String(value));
    }
  }
  return append(element, children);
}

/** h('button', {class: 'x', onclick: f}, 'text', child, [more]) */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** The same for SVG elements. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, ...children);
}

let announceTimer = 0;

/** Say something to screen readers through the polite live region. */
export function announce(message) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  clearTimeout(announceTimer);
  // A short pause makes a repeated message be read again.
  announceTimer = setTimeout(() => { region.textContent = message; }, 30);
}

/** An inline error box; `role=alert` reads it out at once. */
export function errorBox(message) {
  return h('p', { class: 'error', role: 'alert' }, message);
}

/** True when a key press belongs to a text field rather than to a page shortcut. */
export function typingIn(target) {
  if (!(target instanceof Element)) return false;
  return Boolean(target.closest('input, textarea, select, [contenteditable="true"]'));
}

/** Sleep that ends early (rejecting with AbortError) when the signal aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new DOMException('aborted', 'AbortError'));
    const timer = setTimeout(() => { signal?.removeEventListener('abort', stop); resolve(); }, ms);
    function stop() { clearTimeout(timer); reject(new DOMException('aborted', 'AbortError')); }
    signal?.addEventListener('abort', stop, { once: true });
  });
}
