// Sign up and log in. The server sets the session cookie; we never store the token.

import { ApiError, post } from '../api.js';
import { announce, errorBox, h, replace } from '../dom.js';

function browserZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
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
      let answer;
      if (signup) {
        try {
          answer = await post('/auth/signup', { ...body, timezone: browserZone() });
        } catch (error) {
          // A browser zone the server does not know: sign up in UTC rather than fail.
          if (!(error instanceof ApiError && error.status === 422 && /time zone/i.test(error.message))) throw error;
          answer = await post('/auth/signup', body);
        }
      } else {
        answer = await post('/auth/login', body);
      }
      ctx.app.signedIn(answer.user);
      announce(signup ? 'Account created. Welcome!' : 'Logged in');
      ctx.app.navigate('#/topics');
    } catch (error) {
      replace(errors, errorBox(error.message));
      submit.disabled = false;
      submit.textContent = signup ? 'Create account' : 'Log in';
      (error.status === 409 || error.status === 401 ? password : email).focus();
    }
  }

  return h('section', { class: 'auth narrow' },
    h('h1', {}, signup ? 'Create your account' : 'Log in'),
    h('p', { class: 'lead' }, 'Type a topic, then study an endless feed of flashcards written for you and scheduled by FSRS.'),
    h('form', { onsubmit: send, novalidate: false },
      h('div', { class: 'field' }, h('label', { for: 'auth-email' }, 'Email'), email),
      h('div', { class: 'field' },
        h('label', { for: 'auth-password' }, 'Password'),
        password,
        signup ? h('p', { id: 'password-hint', class: 'hint' }, 'At least 8 characters.') : null),
      errors,
      submit),
    h('p', {}, signup
      ? ['Already have an account? ', h('a', { href: '#/login' }, 'Log in')]
      : ['New here? ', h('a', { href: '#/signup' }, 'Create an account')]));
}
