// Settings and account: study preferences, password, sessions, the data export, deletion.

import { ApiError, get, patch, post, request } from '../api.js';
import { announce, errorBox, h, replace } from '../dom.js';
import { browserZone, takeNotice } from './auth.js';

const EXPORT_URL = '/api/v1/me/export';

function status(id) {
  return h('p', { id, class: 'flash', role: 'status', 'aria-live': 'polite' });
}

function field(id, label, control, hint) {
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    control,
    hint ? h('p', { id: `${id}-hint`, class: 'hint' }, hint) : null);
}

function busy(button, text) {
  const before = button.textContent;
  button.disabled = true;
  button.textContent = text;
  return () => { button.disabled = false; button.textContent = before; };
}

// -- study preferences ------------------------------------------------------------------------

function zoneProposal(zones, select) {
  const mine = browserZone();
  const slot = h('div', { id: 'zone-proposal' });
  function draw() {
    if (!mine || mine === select.value) {
      replace(slot);
    } else if (zones.includes(mine)) {
      replace(slot, h('p', { class: 'hint' },
        `This browser is in ${mine}. `,
        h('button', {
          type: 'button',
          class: 'link-button',
          id: 'use-browser-zone',
          onclick: () => { select.value = mine; draw(); select.focus(); },
        }, `Use ${mine}`)));
    } else {
      replace(slot, h('p', { class: 'hint' },
        `This browser reports the time zone “${mine}”, which this server does not know: pick the nearest one from the list.`));
    }
  }
  select.addEventListener('change', draw);
  draw();
  return slot;
}

function studyForm(ctx, zones) {
  const user = ctx.app.user;
  const zone = h('select', { id: 'settings-zone', 'aria-describedby': 'settings-zone-hint' },
    zones.map((name) => h('option', { value: name, selected: name === user.timezone }, name)));
  const retention = h('input', {
    id: 'settings-retention',
    type: 'number',
    min: 70,
    max: 97,
    step: 1,
    required: true,
    value: Math.round(user.desired_retention * 100),
    'aria-describedby': 'settings-retention-hint',
  });
  const newCards = h('input', {
    id: 'settings-new-cards',
    type: 'number',
    min: 0,
    max: 1000,
    step: 1,
    required: true,
    value: user.new_cards_per_day,
    'aria-describedby': 'settings-new-cards-hint',
  });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save settings');
  const errors = h('div', { class: 'form-errors' });
  const done = status('settings-saved');

  async function submit(event) {
    event.preventDefault();
    replace(errors);
    done.textContent = '';
    const restore = busy(save, 'Saving…');
    try {
      ctx.app.user = await patch('/me', {
        timezone: zone.value,
        desired_retention: Number(retention.value) / 100,
        new_cards_per_day: Number(newCards.value),
      }, { signal: ctx.signal });
      done.textContent = 'Saved. Due dates and “today” now follow these settings.';
    } catch (error) {
      if (error.name === 'AbortError') return;
      replace(errors, errorBox(`Not saved: ${error.message}`));
    } finally {
      restore();
    }
  }

  return h('form', { id: 'settings-study', onsubmit: submit },
    h('h2', {}, 'Studying'),
    field('settings-zone', 'Time zone', zone,
      'Your day starts at midnight here: new cards per day count from it, and due dates are shown in it.'),
    zoneProposal(zones, zone),
    field('settings-retention', 'Desired retention (%)', retention,
      'How likely you want to still remember a card when it comes due, from 70% to 97%. Higher means shorter intervals and more reviews; the change applies from each card’s next answer. 90% suits most learners.'),
    field('settings-new-cards', 'New cards per day', newCards,
      'How many unseen cards each topic brings in per day, unless a topic has its own number.'),
    errors,
    save,
    done);
}

// -- password and sessions --------------------------------------------------------------------

function passwordForm(ctx) {
  const current = h('input', { id: 'current-password', type: 'password', required: true, autocomplete: 'current-password', maxlength: 256 });
  const fresh = h('input', { id: 'new-password', type: 'password', required: true, minlength: 8, maxlength: 256, autocomplete: 'new-password', 'aria-describedby': 'new-password-hint' });
  const submitButton = h('button', { type: 'submit' }, 'Change password');
  const errors = h('div', { class: 'form-errors' });
  const done = status('password-changed');

  async function submit(event) {
    event.preventDefault();
    replace(errors);
    done.textContent = '';
    const restore = busy(submitButton, 'Changing…');
    try {
      await post('/me/password', { current_password: current.value, new_password: fresh.value }, { signal: ctx.signal });
      current.value = '';
      fresh.value = '';
      done.textContent = 'Password changed. Your other devices and API tokens were signed out; this browser stays signed in.';
    } catch (error) {
      if (error.name === 'AbortError') return;
      const wrong = error instanceof ApiError && error.code === 'wrong_password';
      replace(errors, errorBox(wrong ? 'The current password is not right.' : error.message));
      (wrong ? current : fresh).focus();
    } finally {
      restore();
    }
  }

  return h('form', { id: 'settings-password', onsubmit: submit },
    h('h2', {}, 'Password'),
    field('current-password', 'Current password', current),
    field('new-password', 'New password', fresh, 'At least 8 characters.'),
    errors,
    submitButton,
    done);
}

function sessionsPart(ctx) {
  const button = h('button', { type: 'button', id: 'logout-everywhere' }, 'Sign out everywhere');
  const errors = h('div', { class: 'form-errors' });
  button.addEventListener('click', async () => {
    replace(errors);
    const restore = busy(button, 'Signing out…');
    try {
      await post('/auth/logout-all', undefined, { signal: ctx.signal });
      ctx.app.notice = 'You were signed out on every device, this one included.';
      ctx.app.signedIn(null);
      announce('Signed out everywhere');
      ctx.app.navigate('#/login');
    } catch (error) {
      if (error.name === 'AbortError') return;
      replace(errors, errorBox(`Could not sign out everywhere: ${error.message}`));
      restore();
    }
  });
  return h('section', { 'aria-labelledby': 'sessions-title' },
    h('h2', { id: 'sessions-title' }, 'Sessions'),
    h('p', {}, 'Lost a device, or shared a token? This signs out every browser and revokes every API token of your account, this one included.'),
    button,
    errors);
}

// -- your data and deleting the account -------------------------------------------------------

function dataPart() {
  return h('section', { 'aria-labelledby': 'data-title' },
    h('h2', { id: 'data-title' }, 'Your data'),
    h('p', {}, 'Everything of yours in one JSON file: your account, topics, cards with their schedules, and every review.'),
    h('p', {}, h('a', { href: EXPORT_URL, download: '', class: 'button', id: 'download-data' }, 'Download all my data')));
}

function deletePart(ctx) {
  const password = h('input', { id: 'delete-password', type: 'password', required: true, autocomplete: 'current-password', maxlength: 256 });
  const button = h('button', { type: 'submit', class: 'danger' }, 'Delete my account');
  const errors = h('div', { class: 'form-errors' });

  async function submit(event) {
    event.preventDefault();
    replace(errors);
    const restore = busy(button, 'Deleting…');
    try {
      await request('DELETE', '/me', { body: { password: password.value }, signal: ctx.signal });
      ctx.app.notice = 'Your account and all its data were deleted.';
      ctx.app.signedIn(null);
      announce('Account deleted');
      ctx.app.navigate('#/login');
    } catch (error) {
      if (error.name === 'AbortError') return;
      const wrong = error instanceof ApiError && error.code === 'wrong_password';
      replace(errors, errorBox(wrong ? 'The password is not right; nothing was deleted.' : error.message));
      password.focus();
      restore();
    }
  }

  return h('form', { id: 'settings-delete', class: 'danger-zone', onsubmit: submit },
    h('h2', {}, 'Delete the account'),
    h('p', {}, 'This deletes your account and everything in it at once: topics, cards, reviews, generation history, usage records and sessions. It cannot be undone, so download your data first if you want to keep it.'),
    field('delete-password', 'Your password, to confirm', password),
    errors,
    button);
}

// -- the page ---------------------------------------------------------------------------------

export function settingsView(ctx) {
  const notice = takeNotice(ctx.app);
  const body = h('div', { 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading settings…'));
  (async () => {
    try {
      const [{ zones }, user] = await Promise.all([
        get('/timezones', { signal: ctx.signal }),
        get('/me', { signal: ctx.signal }),
      ]);
      ctx.app.user = user;
      replace(body,
        studyForm(ctx, zones),
        passwordForm(ctx),
        sessionsPart(ctx),
        dataPart(),
        deletePart(ctx));
    } catch (error) {
      if (error.name === 'AbortError') return;
      replace(body, errorBox(`Could not load your settings: ${error.message}`));
    } finally {
      body.setAttribute('aria-busy', 'false');
    }
  })();
  return h('section', { class: 'settings narrow' },
    h('h1', {}, 'Settings'),
    notice ? h('p', { class: 'banner notice', id: 'settings-notice', role: 'status' }, notice) : null,
    body);
}
