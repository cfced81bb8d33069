// The single-page app: who is signed in, the hash routes, and the header.

import { ApiError, get, post, whenUnauthorized } from './api.js';
import { announce, errorBox, h, replace } from './dom.js';
import { authView, forgotView, resetView } from './views/auth.js';
import { cardsView } from './views/cards.js';
import { settingsView } from './views/settings.js';
import { importView } from './views/import.js';
import { statsView } from './views/stats.js';
import { studyView } from './views/study.js';
import { topicsView } from './views/topics.js';
import { usageView } from './views/usage.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const whoami = document.getElementById('whoami');
nav.querySelector('ul').append(Object.assign(document.createElement('li'), {
  innerHTML: '<a href="#/import" data-route="import">Import</a>',
}));

const app = {
  user: null,
  navigate(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  signedIn(user) {
    app.user = user;
    showHeader();
  },
};

let current = null; // {controller} of the view on screen

function showHeader() {
  nav.hidden = !app.user;
  whoami.textContent = app.user ? app.user.email : '';
}

function parse(hash) {
  const path = hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  if (path.length === 0) return { name: 'topics' };
  if (path[0] === 'topics' && path[1] && path[2] === 'cards') return { name: 'cards', topicId: Number(path[1]) };
  if (path[0] === 'topics' && path[1]) return { name: 'study', topicId: Number(path[1]) };
  if (path[0] === 'reset') return { name: 'reset', token: path[1] || '' };
  return { name: path[0] };
}

const PUBLIC = new Set(['login', 'signup', 'forgot', 'reset']);

function route() {
  current?.controller.abort(); // stops the old view's long-polls, timers and key handlers
  const controller = new AbortController();
  current = { controller };
  let where = parse(location.hash);
  if (!app.user && !PUBLIC.has(where.name)) where = { name: 'login' };
  // A reset link opened while signed in still works: it is about the emailed account.
  if (app.user && PUBLIC.has(where.name) && where.name !== 'reset') where = { name: 'topics' };
  for (const link of nav.querySelectorAll('a[data-route]')) {
    const active = link.dataset.route === where.name || (where.name === 'study' && link.dataset.route === 'topics');
    if (active) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const ctx = { app, signal: controller.signal };
  let view;
  switch (where.name) {
    case 'login':
    case 'signup':
      view = authView(ctx, where.name);
      break;
    case 'topics':
      view = topicsView(ctx);
      break;
    case 'study':
      view = Number.isInteger(where.topicId) && where.topicId > 0
        ? studyView(ctx, where.topicId)
        : notFound();
      break;
    case 'cards':
      view = where.topicId === undefined || (Number.isInteger(where.topicId) && where.topicId > 0)
        ? cardsView(ctx, where.topicId)
        : notFound();
      break;
    case 'stats':
      view = statsView(ctx);
      break;
    case 'usage':
      view = usageView(ctx);
      break;
    case 'settings':
      view = settingsView(ctx);
      break;
    case 'forgot':
      view = forgotView(ctx);
      break;
    case 'reset':
      view = resetView(ctx, where.token);
      break;
    case 'import':
      view = importView(ctx);
      break;
    default:
      view = notFound();
  }
  replace(main, view);
  // Move focus to the new screen's heading so keyboard and screen reader users land there.
  const heading = main.querySelector('h1');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: true });
    document.title = `${heading.textContent} — srs`;
  }
  window.scrollTo(0, 0);
}

function notFound() {
  return h('section', {},
    h('h1', {}, 'Page not found'),
    h('p', {}, h('a', { href: '#/topics' }, 'Back to your topics')));
}

document.getElementById('logout').addEventListener('click', async () => {
  try {
    await post('/auth/logout');
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) {
      announce(`Could not log out: ${error.message}`);
      return;
    }
  }
  app.user = null;
  showHeader();
  announce('Logged out');
  app.navigate('#/login');
});

whenUnauthorized(() => {
  if (!app.user) return;
  app.user = null;
  showHeader();
  announce('Your session ended. Please log in again.');
  app.navigate('#/login');
});

window.addEventListener('hashchange', route);

// The skip link must not change the hash: the hash is the route.
document.querySelector('.skip-link').addEventListener('click', (event) => {
  event.preventDefault();
  (main.querySelector('h1') || main).focus();
});

async function start() {
  try {
    app.user = await get('/me', { quiet401: true });
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) {
      replace(main, h('section', {},
        h('h1', {}, 'srs'),
        errorBox(`The server could not be reached: ${error.message}`),
        h('button', { type: 'button', onclick: () => location.reload() }, 'Try again')));
      return;
    }
    app.user = null;
  }
  showHeader();
  route();
}

start();
