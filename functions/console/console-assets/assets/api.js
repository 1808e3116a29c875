// Calls to Onboard's own endpoints. The session is an HttpOnly cookie this
// script never sees; each call carries the session's CSRF token, which the
// server refuses a call without.

let csrfToken = '';
let onSignedOut = () => {};

export function setCsrf(token) { csrfToken = token || ''; }
export function whenSignedOut(f) { onSignedOut = f; }

export class ApiError extends Error {
  constructor(status, message, fields) {
    super(message);
    this.status = status;
    this.fields = fields;
  }
}

/** What went wrong, in words, from any family's error body. */
function describe(status, body) {
  if (body && typeof body === 'object') {
    const message = body.message || body.detail || body.title ||
      (body.errors && body.errors.errors && body.errors.errors[0]);
    const fields = body.errors && !Array.isArray(body.errors) && !body.errors.errors ? body.errors : null;
    if (message) return new ApiError(status, `${message} (${status})`, fields);
  }
  const words = {
    400: 'The request was not understood', 401: 'You are signed out', 403: 'You may not do this',
    404: 'Not found', 409: 'Someone else changed this meanwhile; reload and try again',
    422: 'Some fields are not valid', 429: 'Too many attempts; wait a moment', 503: 'The store is busy; try again',
  };
  return new ApiError(status, `${words[status] || 'The server answered an error'} (${status})`, null);
}

/** `method path` with an optional JSON body; resolves to the parsed body
 *  (or null), rejects with an ApiError. */
export async function api(method, path, body) {
  const headers = { Accept: 'application/json', 'X-CSRF-Token': csrfToken };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'The server could not be reached; check the connection and try again', null);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (e) { data = text; }
  }
  if (!response.ok) {
    if (response.status === 401 && path !== '/console/session') onSignedOut();
    throw describe(response.status, data);
  }
  return data;
}

/** A query string from an object, leaving empty values out. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}
