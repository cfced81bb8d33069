// Sign up, log in, and reset a forgotten password. The server sets the session cookie; we
// never store the token.

import { ApiError, get, post } from '../api.js';
import { announce, errorBox, h, replace } from '../dom.js';

/** The browser's IANA time zone, or null when it does not say. */
export function browserZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || null;
  } catch {
    return null;
  }
}

/** A message left for the next screen (after signing out, deleting the account...); read once. */
export function takeNotice(app) {
  const notice = app.notice;
  app.notice = null;
  return notice || null;
}

function noticeBanner(app) {
  const notice = takeNotice(app);
  return notice ? h('p', { class: 'banner notice', id: 'auth-notice', role: 'status' }, notice) : null;
}

const unknownZone = (error) => error instanceof ApiError && error.status === 422 && /time zone/i.test(error.message);

async function signUp(ctx, body) {
  const zone = browserZone();
  try {
    return await post('/auth/signup', zone ? { ...body, timezone: zone } : body);
  } catch (error) {
    if (!unknownZone(error)) throw error;
  }
  // The server does not know the browser's zone: sign up in UTC, and say so on the settings
  // page, where the learner picks the right zone.
  const answer = await post('/auth/signup', body);
  ctx.app.notice = `This server does not know your browser's time zone (“${zone}”), so your account uses UTC for now: your day starts at midnight UTC. Choose your time zone below.`;
  return answer;
}

/** Whether password reset by email works on this server; the answer is shown, never guessed. */
function resetLine() {
  const line = h('p', { id: 'reset-line', class: 'hint' });
  (async () => {
    try {
      const { available } = await get('/auth/password-reset', { quiet401: true });
      if (available) replace(line, h('a', { href: '#/forgot' }, 'Forgot your password?'));
      else replace(line, 'Password reset is unavailable on this server: it has no mail server configured. Ask its administrator for help.');
    } catch (error) {
      replace(line, `Password reset is unavailable: ${error.message}`);
    }
  })();
  return line;
}

export function authView(ctx, mode) {
  const signup = mode === 'signup';
  const errors = h('div', { class: 'form-errors' });
  const email = h('input', { id: 'auth-email', name: 'email', type: 'email', required: true, autocomplete: 'email', maxlength: 320 });
  const password = h('input', {
    id: 'auth-password',
    name: 'password',
    type: 'password',
    required: true,
    minlength: signup ? 8 : 1,
    maxlength: 256,
    autocomplete: signup ? 'new-password' : 'current-password',
    'aria-describedby': signup ? 'password-hint' : null,
  });
  const submit = h('button', { type: 'submit', class: 'primary' }, signup ? 'Create account' : 'Log in');

  async function send(event) {
    event.preventDefault();
    replace(errors);
    submit.disabled = true;
    submit.textContent = signup ? 'Creating account…' : 'Logging in…';
    const body = { email: email.value.trim(), password: password.value };
    try {
      const answer = signup ? await signUp(ctx, body) : await post('/auth/login', body);
      ctx.app.signedIn(answer.user);
      announce(signup ? 'Account created. Welcome!' : 'Logged in');
      ctx.app.navigate(ctx.app.notice ? '#/settings' : '#/topics');
    } catch (error) {
      replace(errors, errorBox(error.message));
      submit.disabled = false;
      submit.textContent = signup ? 'Create account' : 'Log in';
      (error.status === 409 || error.status === 401 ? password : email).focus();
    }
  }

  return h('section', { class: 'auth narrow' },
    h('h1', {}, signup ? 'Create your account' : 'Log in'),
    noticeBanner(ctx.app),
    h('p', { class: 'lead' }, 'Type a topic, then study an endless feed of flashcards written for you and scheduled by FSRS.'),
    h('form', { onsubmit: send, novalidate: false },
      h('div', { class: 'field' }, h('label', { for: 'auth-email' }, 'Email'), email),
      h('div', { class: 'field' },
        h('label', { for: 'auth-password' }, 'Password'),
        password,
        signup ? h('p', { id: 'password-hint', class: 'hint' }, 'At least 8 characters.') : null),
      errors,
      submit),
    signup ? null : resetLine(),
    h('p', {}, signup
      ? ['Already have an account? ', h('a', { href: '#/login' }, 'Log in')]
      : ['New here? ', h('a', { href: '#/signup' }, 'Create an account')]));
}

/** Ask for a reset link by email. */
export function forgotView(ctx) {
  const email = h('input', { id: 'forgot-email', type: 'email', required: true, autocomplete: 'email', maxlength: 320 });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Send a reset link');
  const result = h('div', { class: 'form-errors' });

  async function send(event) {
    event.preventDefault();
    replace(result);
    submit.disabled = true;
    try {
      await post('/auth/password-reset', { email: email.value.trim() }, { signal: ctx.signal });
      replace(result, h('p', { class: 'banner notice', id: 'reset-sent', role: 'status' },
        `If an account uses ${email.value.trim()}, a link to choose a new password is on its way. It works once, for a limited time. Check your spam folder if it does not arrive.`));
    } catch (error) {
      if (error.name === 'AbortError') return;
      replace(result, errorBox(error.message));
      submit.disabled = false;
    }
  }

  return h('section', { class: 'auth narrow' },
    h('h1', {}, 'Reset your password'),
    h('form', { onsubmit: send },
      h('div', { class: 'field' }, h('label', { for: 'forgot-email' }, 'Email of your account'), email),
      result,
      submit),
    h('p', {}, h('a', { href: '#/login' }, 'Back to log in')));
}

/** Choose a new password with the token from the emailed link (#/reset/TOKEN). */
export function resetView(ctx, token) {
  const password = h('input', { id: 'reset-password', type: 'password', required: true, minlength: 8, maxlength: 256, autocomplete: 'new-password', 'aria-describedby': 'reset-password-hint' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Set the new password');
  const errors = h('div', { class: 'form-errors' });

  async function send(event) {
    event.preventDefault();
    replace(errors);
    submit.disabled = true;
    try {
      await post('/auth/password-reset/confirm', { token, new_password: password.value }, { signal: ctx.signal });
      ctx.app.notice = 'Your password is changed, and every session was signed out. Log in with the new password.';
      ctx.app.signedIn(null);
      announce('Password changed');
      ctx.app.navigate('#/login');
    } catch (error) {
      if (error.name === 'AbortError') return;
      replace(errors, errorBox(error.message),
        error.code === 'reset_token_invalid' ? h('p', {}, h('a', { href: '#/forgot' }, 'Ask for a new link')) : null);
      submit.disabled = false;
    }
  }

  if (!token) {
    return h('section', { class: 'auth narrow' },
      h('h1', {}, 'Choose a new password'),
      errorBox('This link has no reset code. Open the link from the email again, or ask for a new one.'),
      h('p', {}, h('a', { href: '#/forgot' }, 'Ask for a new link')));
  }
  return h('section', { class: 'auth narrow' },
    h('h1', {}, 'Choose a new password'),
    h('form', { onsubmit: send },
      h('div', { class: 'field' },
        h('label', { for: 'reset-password' }, 'New password'),
        password,
        h('p', { id: 'reset-password-hint', class: 'hint' }, 'At least 8 characters.')),
      errors,
      submit));
}
