// The one door to the API. Cookie session; every write carries the CSRF header.

const BASE = '/api/v1';
const SAFE = new Set(['GET', 'HEAD']);

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let onUnauthorized = () => {};

/** Called when any request answers 401 (the session ended): the app shows the login form. */
export function whenUnauthorized(callback) {
  onUnauthorized = callback;
}

export function cookie(name) {
  for (const part of document.cookie.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return '';
}

export async function request(method, path, { body, signal, quiet401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  const form = body instanceof FormData;  // multipart: the browser sets its own Content-Type
  if (body !== undefined && !form) headers['Content-Type'] = 'application/json';
  if (!SAFE.has(method)) headers['X-CSRF-Token'] = cookie('srs_csrf');
  let response;
  try {
    response = await fetch(BASE + path, {
      method,
      headers,
      body: body === undefined || form ? body : JSON.stringify(body),
      credentials: 'same-origin',
      signal,
    });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, 'network', 'Cannot reach the server. Check the connection; the app retries on its own where it can.');
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data && data.error;
    const message = (error && error.message) || `The server answered ${response.status} ${response.statusText}`.trim();
    if (response.status === 401 && !quiet401) onUnauthorized();
    throw new ApiError(response.status, (error && error.code) || 'error', message);
  }
  return data;
}

export const get = (path, options) => request('GET', path, options);
export const post = (path, body, options) => request('POST', path, { ...options, body });
export const patch = (path, body, options) => request('PATCH', path, { ...options, body });
export const del = (path, options) => request('DELETE', path, options);

/** POST one file as multipart (`file` field): imports and sources. */
export function upload(path, file, options) {
  const form = new FormData();
  form.append('file', file);
  return request('POST', path, { ...options, body: form });
}

export function exportUrl(topicId, kind) {
  return `${BASE}/topics/${topicId}/export.${kind}`;
}

/** A path of a paginated list with `limit` and `cursor` added to its query. */
export function pagePath(path, { limit, cursor } = {}) {
  const url = new URL(path, 'http://x');
  if (limit) url.searchParams.set('limit', String(limit));
  if (cursor) url.searchParams.set('cursor', cursor);
  return url.pathname + url.search;
}

/** Every item of a paginated list (`{items, next_cursor}`), page after page. */
export async function getAll(path, options) {
  const items = [];
  let cursor = null;
  do {
    const page = await get(pagePath(path, { limit: 500, cursor }), options);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}
