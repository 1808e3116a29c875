// The console: a page per hash route (#/users, #/users/<id>...), each reading
// and writing through Onboard's own endpoints.

import { api, ApiError, query, setCsrf, whenSignedOut } from './api.js';
import {
  badge, busy, choice, empty, errorBox, field, fill, formData, h, loading, notice, props, table,
} from './dom.js';

const main = document.getElementById('main');
let me = null;
// The sign-in page on screen, if any: a second route() while signed out
// (a hash change racing the first load) keeps it, with what was typed and the
// pending second-factor step, instead of replacing it with a blank one. A
// sign-in or a sign-out forgets it.
let signInView = null;

const ROLE_NAMES = {
  operator: 'Operator', reseller_admin: 'Reseller admin', customer_admin: 'Customer admin', user: 'User',
  'Super Admin': 'Operator', Admin: 'Admin', User: 'User',
};
const PER_PAGE = 20;
const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';

// ---- session ------------------------------------------------------------

async function loadSession() {
  const session = await api('GET', '/console/session');
  if (session.signed_in) signedIn(session);
}

function signedIn(session) {
  me = session;
  setCsrf(session.csrf_token);
  document.getElementById('nav').hidden = false;
  document.getElementById('who').hidden = false;
  const u = session.user;
  fill(document.getElementById('who-name'),
    `${u.email} · ${ROLE_NAMES[u.role] || u.role} · ${session.organization.name}`);
}

function signedOut() {
  me = null;
  signInView = null;
  setCsrf('');
  document.getElementById('nav').hidden = true;
  document.getElementById('who').hidden = true;
  if (location.hash !== '#/sign-in') location.hash = '#/sign-in';
  else route();
}
whenSignedOut(signedOut);

document.getElementById('sign-out').addEventListener('click', async (ev) => {
  await busy(ev.currentTarget, 'Signing out…', async () => {
    try { await api('DELETE', '/console/session'); } catch (e) { /* signed out either way */ }
  });
  signedOut();
});

function signInPage() {
  const status = h('div', { 'aria-live': 'polite' });
  let otpState = null;
  const passwordStep = h('form', { class: 'card', 'aria-label': 'Sign in' },
    field('Email', 'email', { type: 'email', autocomplete: 'username', required: true, autofocus: true }),
    field('Password', 'password', { type: 'password', autocomplete: 'current-password', required: true }),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Sign in')));
  const codeStep = h('form', { class: 'card', 'aria-label': 'Second factor', hidden: true },
    h('p', {}, 'Enter the code from your authenticator app, or one of your recovery codes.'),
    field('Code', 'otp_attempt', { inputmode: 'numeric', autocomplete: 'one-time-code', required: true }),
    h('label', { class: 'inline' }, h('input', { type: 'checkbox', name: 'recovery' }), 'This is a recovery code'),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Verify')));
  const finish = (session) => {
    signInView = null;
    signedIn(session);
    // Already at #/, no hashchange fires: route by hand.
    if (location.hash === '#/') route();
    else location.hash = '#/';
  };
  passwordStep.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fill(status);
    const body = formData(passwordStep);
    await busy(passwordStep.querySelector('button'), 'Signing in…', async () => {
      try {
        const answer = await api('POST', '/console/session', { email: body.email, password: body.password });
        if (answer.otp_required) {
          otpState = answer.otp_session_state;
          passwordStep.querySelector('input[name=password]').value = '';
          passwordStep.hidden = true;
          codeStep.hidden = false;
          codeStep.querySelector('input').focus();
        } else {
          finish(answer);
        }
      } catch (e) { fill(status, errorBox(e)); }
    });
  });
  codeStep.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fill(status);
    const body = formData(codeStep);
    const factor = body.recovery ? { recovery_code: body.otp_attempt } : { otp_attempt: body.otp_attempt };
    await busy(codeStep.querySelector('button'), 'Verifying…', async () => {
      try {
        finish(await api('POST', '/console/session', { otp_session_state: otpState, ...factor }));
      } catch (e) { fill(status, errorBox(e)); }
    });
  });
  return h('div', { class: 'signin' }, h('h1', {}, 'Sign in to the console'),
    h('p', {}, 'For operators and reseller administrators.'), status, passwordStep, codeStep);
}

// ---- shared pieces ----------------------------------------------------------

const link = (href, text) => h('a', { href }, text);
const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

/** A paged list: `load(page)` resolves to `{data, meta}`; `render(data)`
 *  makes the table. Shows loading, empty and error states. */
function pagedList(load, render) {
  const box = h('div', { 'aria-live': 'polite' });
  let page = 1;
  const show = async () => {
    fill(box, loading());
    try {
      const answer = await load(page);
      const meta = answer.meta || {};
      const pages = meta.total_pages || 1;
      const prev = h('button', { type: 'button', class: 'secondary', disabled: page <= 1, onclick: () => { page -= 1; show(); } }, 'Previous');
      const next = h('button', { type: 'button', class: 'secondary', disabled: page >= pages, onclick: () => { page += 1; show(); } }, 'Next');
      const total = meta.total_count === undefined ? '' : ` · ${meta.total_count}${meta.truncated ? '+' : ''} in all`;
      fill(box, render(answer.data || []),
        pages > 1 || page > 1 ? h('div', { class: 'pager' }, prev, h('span', {}, `Page ${page} of ${pages}${total}`), next)
          : h('p', { class: 'empty' }, total ? total.slice(3) : ''));
    } catch (e) { fill(box, errorBox(e)); }
  };
  show();
  return { element: box, reload: () => { page = 1; return show(); } };
}

/** A form whose submit runs `work(values)` with progress and shows the
 *  outcome (`done` text or element) or the error beside it. */
function actionForm(label, children, submitText, work, done) {
  const status = h('div', { 'aria-live': 'polite' });
  const button = h('button', { type: 'submit' }, submitText);
  const form = h('form', { class: 'card', 'aria-label': label }, h('h2', {}, label), h('div', { class: 'grid' }, children),
    h('div', { class: 'actions' }, button), status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fill(status);
    await busy(button, 'Working…', async () => {
      try {
        const result = await work(formData(form));
        const shown = typeof done === 'function' ? done(result) : done;
        fill(status, shown instanceof Node ? shown : notice(shown));
      } catch (e) { fill(status, errorBox(e)); }
    });
  });
  return form;
}

/** A button that asks first (when `ask`), then runs `work`, reporting into `status`. */
function actionButton(text, status, work, { ask, danger, after } = {}) {
  return h('button', {
    type: 'button', class: danger ? 'danger' : 'secondary',
    onclick: async (ev) => {
      if (ask && !window.confirm(ask)) return;
      fill(status);
      await busy(ev.currentTarget, 'Working…', async () => {
        try {
          const message = await work();
          fill(status, notice(message));
          if (after) after();
        } catch (e) { fill(status, errorBox(e)); }
      });
    },
  }, text);
}

function searchForm(label, controls, onSearch) {
  const form = h('form', { class: 'card', role: 'search', 'aria-label': label }, h('div', { class: 'grid' }, controls),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Search')));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); onSearch(formData(form)); });
  return form;
}

const wildcard = (term) => (term ? `*${term.replace(/\*/g, '')}*` : '');

// ---- overview ---------------------------------------------------------------

async function count(path) {
  const answer = await api('GET', path);
  const meta = answer.meta || {};
  return `${meta.total_count}${meta.truncated ? '+' : ''}`;
}

function overviewPage() {
  const counts = h('div', { class: 'counts' });
  const items = [
    ['Resellers', `/v2/organizations${query({ 'q[kind]': 'reseller', per_page: 1 })}`, '#/organizations'],
    ['Customers', `/v2/organizations${query({ 'q[kind]': 'customer', per_page: 1 })}`, '#/organizations'],
    ['Users', `/v2/users${query({ per_page: 1 })}`, '#/users'],
  ];
  for (const [label, path, href] of items) {
    const value = h('strong', {}, '…');
    counts.appendChild(h('div', { class: 'count' }, value, link(href, label)));
    count(path).then((n) => fill(value, n), (e) => fill(value, '?', errorBox(e)));
  }
  const recent = pagedList(
    () => api('GET', `/v2/audit/events${query({ per_page: 10 })}`),
    (events) => auditTable(events, 'No audit events yet.'));
  return [h('h1', { tabindex: -1 }, 'Overview'), counts, h('h2', {}, 'Recent audit events'), recent.element];
}

// ---- organizations ----------------------------------------------------------

function orgRows(orgs) {
  return orgs.map((o) => {
    const a = o.attributes;
    return [link(`#/organizations/${o.id}`, a.name), a.kind || (a.partner ? 'reseller' : 'customer'),
      badge(a.status || 'active'), a.company_name || '', when(a.creation_time)];
  });
}

const ORG_HEADERS = ['Name', 'Kind', 'Status', { text: 'Company', optional: true }, { text: 'Created', optional: true }];

/** The organization tree from `root`, children loaded when a node opens. */
function orgTree(root) {
  const node = (id, name, kind) => {
    const children = h('ul', { hidden: true });
    let loaded = false;
    const toggle = h('button', { type: 'button', class: 'toggle', 'aria-expanded': 'false', 'aria-label': `Open ${name}` }, '▸');
    toggle.addEventListener('click', async () => {
      const open = toggle.getAttribute('aria-expanded') !== 'true';
      toggle.setAttribute('aria-expanded', String(open));
      toggle.textContent = open ? '▾' : '▸';
      children.hidden = !open;
      if (open && !loaded) {
        loaded = true;
        fill(children, h('li', {}, loading()));
        try {
          // The platform's children are the top-level organizations: those
          // with no parent (an empty `q[parent_id]`), but the platform itself.
          const path = kind === 'platform' ? '/v2/organizations?per_page=100&q%5Bparent_id%5D='
            : `/v2/organizations${query({ 'q[parent_id]': id, per_page: 100 })}`;
          const answer = await api('GET', path);
          const list = (answer.data || []).filter((o) => o.attributes.kind !== 'platform');
          fill(children, list.length ? list.map((o) => node(o.id, o.attributes.name, o.attributes.kind))
            : h('li', {}, empty('No organizations under it.')));
        } catch (e) { fill(children, h('li', {}, errorBox(e))); }
      }
    });
    return h('li', {}, toggle, link(`#/organizations/${id}`, name), ' ', badge(kind), children);
  };
  return h('div', { class: 'tree card' }, h('ul', {}, node(root.id, root.name, root.kind)));
}

function organizationsPage() {
  let filters = {};
  const list = pagedList(
    (page) => api('GET', `/v2/organizations${query({ page, per_page: PER_PAGE, 'q[name]': wildcard(filters.name), 'q[kind]': filters.kind })}`),
    (orgs) => table(ORG_HEADERS, orgRows(orgs), 'No organizations match.'));
  const search = searchForm('Search organizations', [
    field('Name', 'name', { type: 'search' }),
    choice('Kind', 'kind', [['', 'Any'], ['reseller', 'Resellers'], ['customer', 'Customers']]),
  ], (values) => { filters = values; list.reload(); });
  const create = actionForm('Create a reseller or a customer', [
    choice('Kind', 'kind', [['customer', 'Customer'], ['reseller', 'Reseller']]),
    field('Name', 'name', { required: true, maxlength: 255 }),
    field('Company name (customers)', 'company_name', { maxlength: 255 }),
    field('Reseller code (resellers)', 'code', { maxlength: 64 }),
    field('Parent organization id (empty: yours)', 'parent', { pattern: UUID }),
  ], 'Create', async (v) => {
    if (v.kind === 'reseller') {
      const r = await api('POST', '/admin/resellers', { name: v.name, code: v.code, parent_id: v.parent });
      list.reload();
      return { id: r.id, name: r.name };
    }
    const r = await api('POST', '/v2/organizations', {
      organization: { name: v.name, company_name: v.company_name, parent_organization: v.parent },
    });
    list.reload();
    return { id: r.data.id, name: r.data.attributes.name };
  }, (r) => h('p', { class: 'notice', role: 'status' }, 'Created ', link(`#/organizations/${r.id}`, r.name), '.'));
  return [h('h1', { tabindex: -1 }, 'Resellers and customers'), h('h2', {}, 'Tree'), orgTree(me.organization),
    h('h2', {}, 'Search'), search, list.element, create];
}

async function organizationPage(id) {
  const enc = encodeURIComponent(id);
  const answer = await api('GET', `/v2/organizations/${enc}`);
  const a = answer.data.attributes;
  const status = h('div', { 'aria-live': 'polite' });
  const reload = () => route();
  const setStatus = (s) => async () => {
    await api('PUT', `/v2/organizations/${enc}`, { organization: { status: s } });
    return s === 'disabled' ? 'Disabled: its users cannot sign in.' : 'Enabled.';
  };
  const actions = h('div', { class: 'actions' },
    (a.status || 'active') === 'disabled'
      ? actionButton('Enable', status, setStatus('active'), { after: reload })
      : actionButton('Disable', status, setStatus('disabled'), { ask: `Disable ${a.name}? Its users cannot sign in until it is enabled.`, after: reload }),
    actionButton('Delete', status, async () => {
      await api('DELETE', `/v2/organizations/${enc}`);
      return 'Deleted.';
    }, { ask: `Delete ${a.name}? It must have no users and no organizations under it.`, danger: true }));
  const subs = h('div', { 'aria-live': 'polite' }, loading());
  const showSubs = async () => {
    try {
      const list = (await api('GET', `/v2/organizations/${enc}/subscriptions`)).data || [];
      fill(subs, table(['Plan', 'Status', 'Started', { text: 'Ends', optional: true }, ''], list.map((s) => {
        const sa = s.attributes || s;
        const plan = sa.plan_code || sa.plan || (sa.plan_details && sa.plan_details.code) || s.id;
        return [String(plan), badge(sa.status || ''), when(sa.start_date), when(sa.end_date),
          sa.status === 'active' ? actionButton('Unsubscribe', status, async () => {
            await api('POST', `/v2/organizations/${enc}/unsubscribe`, { plan: String(plan) });
            showSubs();
            return `Unsubscribed from ${plan}.`;
          }, { ask: `Cancel the ${plan} subscription?` }) : ''];
      }), 'No subscriptions.'));
    } catch (e) { fill(subs, errorBox(e)); }
  };
  showSubs();
  const subscribe = actionForm('Subscribe', [field('Plan code', 'plan', { required: true })], 'Subscribe', async (v) => {
    await api('POST', `/v2/organizations/${enc}/subscribe`, { plan: v.plan });
    showSubs();
    return `Subscribed to ${v.plan}.`;
  }, (m) => m);
  const children = pagedList(
    (page) => api('GET', `/v2/organizations${query({ page, per_page: PER_PAGE, 'q[parent_id]': id })}`),
    (orgs) => table(ORG_HEADERS, orgRows(orgs), 'No organizations under it.'));
  const users = pagedList(
    (page) => api('GET', `/v2/users${query({ page, per_page: PER_PAGE, 'q[organization_id]': id })}`),
    (list) => table(USER_HEADERS, userRows(list), 'No users in it.'));
  return [h('h1', { tabindex: -1 }, a.name),
    h('section', {}, props([['Id', id], ['Kind', a.kind], ['Status', a.status], ['Company', a.company_name],
      ['Description', a.description], ['Parent', a.parent_id ? link(`#/organizations/${a.parent_id}`, a.parent_id) : null],
      ['Created', when(a.creation_time)]]), actions, status),
    h('h2', {}, 'Subscriptions'), h('section', {}, subs), subscribe,
    h('h2', {}, 'Organizations under it'), children.element,
    h('h2', {}, 'Users'), users.element];
}

// ---- users ------------------------------------------------------------------

const USER_HEADERS = ['Email', 'Name', 'Role', 'Status', { text: 'Organization', optional: true }];

function userRows(users) {
  return users.map((u) => {
    const a = u.attributes;
    const name = [a.first_name, a.last_name].filter(Boolean).join(' ');
    return [link(`#/users/${u.id}`, a.email), name, ROLE_NAMES[a.role] || a.role, badge(a.status || 'active'),
      a.organization ? link(`#/organizations/${a.organization.id}`, a.organization.name) : ''];
  });
}

function usersPage() {
  let filters = {};
  const list = pagedList(
    (page) => api('GET', `/v2/users${query({ page, per_page: PER_PAGE, [`q[${filters.by || 'email'}]`]: wildcard(filters.term) })}`),
    (users) => table(USER_HEADERS, userRows(users), 'No users match.'));
  const search = searchForm('Search users', [
    field('Search', 'term', { type: 'search' }),
    choice('In', 'by', [['email', 'Email'], ['first_name', 'First name'], ['last_name', 'Last name']]),
  ], (values) => { filters = values; list.reload(); });
  const roles = [['user', 'User'], ['customer_admin', 'Customer admin'], ['reseller_admin', 'Reseller admin']];
  if (me.user.role === 'operator') roles.push(['operator', 'Operator']);
  const create = actionForm('Create a user (sends an invitation)', [
    field('Email', 'email', { type: 'email', required: true }),
    field('First name', 'first_name'),
    field('Last name', 'last_name'),
    choice('Role', 'role', roles),
    field('Organization id', 'organization_id', { required: true, pattern: UUID }),
  ], 'Create and invite', async (v) => {
    const r = await api('POST', '/admin/accounts', { ...v, invite: true });
    list.reload();
    return r;
  }, (r) => h('p', { class: 'notice', role: 'status' }, 'Created ', link(`#/users/${r.id}`, r.email), '; the invitation is in the outbox.'));
  return [h('h1', { tabindex: -1 }, 'Users'), search, list.element, create];
}

async function userPage(id) {
  const enc = encodeURIComponent(id);
  const [answer, detail] = await Promise.all([
    api('GET', `/v2/users/${enc}`),
    api('GET', `/admin/accounts/${enc}`),
  ]);
  const a = answer.data.attributes;
  const status = h('div', { 'aria-live': 'polite' });
  const reload = () => route();
  const name = [a.first_name, a.last_name].filter(Boolean).join(' ') || a.email;
  const disabled = a.status === 'disabled';
  const actions = h('div', { class: 'actions' },
    disabled
      ? actionButton('Enable', status, async () => { await api('PATCH', `/admin/accounts/${enc}`, { status: 'active' }); return 'Enabled.'; }, { after: reload })
      : actionButton('Disable', status, async () => { await api('PATCH', `/admin/accounts/${enc}`, { status: 'disabled' }); return 'Disabled: it cannot sign in.'; }, { ask: `Disable ${a.email}?`, after: reload }),
    actionButton('Resend invitation', status, async () => {
      const r = await api('POST', '/auth/invitation', { user_id: id });
      return r.message || 'Sent.';
    }, { ask: `Send ${a.email} a new invitation?` }),
    actionButton('Send a password reset', status, async () => {
      const r = await api('POST', `/admin/accounts/${enc}/password_reset`, {});
      return r.message || 'Sent.';
    }, { ask: `Send ${a.email} a password reset?` }),
    actionButton('Delete', status, async () => {
      await api('DELETE', `/v2/users/${enc}`);
      return 'Deleted.';
    }, { ask: `Delete ${a.email}? It can no longer sign in.`, danger: true }));
  const edit = actionForm('Edit profile', [
    field('First name', 'first_name', { value: a.first_name || '', maxlength: 255 }),
    field('Last name', 'last_name', { value: a.last_name || '', maxlength: 255 }),
    field('Title', 'title', { value: a.title || '', maxlength: 255 }),
    field('Phone', 'phone', { value: a.phone || '', maxlength: 64 }),
    field('Locale', 'locale', { value: a.locale || '', placeholder: 'en' }),
    field('Time zone', 'timezone', { value: a.timezone || '', placeholder: 'Europe/Berlin' }),
  ], 'Save', async (v) => {
    const user = {};
    for (const k of ['first_name', 'last_name', 'title', 'phone', 'locale', 'timezone']) user[k] = v[k] === undefined ? null : v[k];
    await api('PUT', `/v2/users/${enc}`, { user });
    return 'Saved.';
  }, (m) => m);
  // A lost phone: the administrator confirms with its own password.
  const resetFactor = detail.two_factor ? actionForm('Reset the second factor', [
    h('p', {}, 'For a user who lost its authenticator. It then signs in with its password alone and is told so.'),
    field('Your own password', 'password', { type: 'password', autocomplete: 'current-password', required: true }),
  ], 'Reset second factor', async (v) => {
    await api('DELETE', `/admin/accounts/${enc}/two_factor`, { password: v.password });
    return 'Second factor reset; the user was told.';
  }, (m) => m) : null;
  const move = actionForm('Move to another organization', [
    field('Organization id', 'organization_id', { required: true, pattern: UUID }),
  ], 'Move', async (v) => {
    await api('PUT', `/v2/organizations/move${query({ user_id: id, organization_id: v.organization_id })}`);
    return 'Moved.';
  }, (m) => m);
  const signIns = props([['Sign-ins', String(detail.sign_in_count || 0)], ['Last sign-in', when(detail.last_sign_in_at)],
    ['From', detail.last_sign_in_ip], ['Access token', detail.access_token ? 'issued' : 'none']]);
  const tokens = table(['API token', 'Created', 'Expires', { text: 'Last used', optional: true }], (detail.api_tokens || []).map((t) =>
    [t.name || '', when(t.created_at), t.expires_at ? when(t.expires_at) : 'never', when(t.last_used)]), 'No live API tokens.');
  return [h('h1', { tabindex: -1 }, name),
    h('section', {}, props([['Email', a.email], ['Role', ROLE_NAMES[a.role] || a.role], ['Status', badge(a.status || 'active')],
      ['Organization', a.organization ? link(`#/organizations/${a.organization.id}`, a.organization.name) : null],
      ['Groups', (detail.groups || []).map((g) => g.name).join(', ')],
      ['Second factor', detail.two_factor ? 'on' : 'off'],
      ['Confirmed', a.confirmed ? 'yes' : 'no'], ['Invitation', detail.invited ? 'not accepted yet' : 'accepted or none'], ['Created', when(a.created_at)], ['Id', id]]), actions, status),
    edit, move, resetFactor, h('h2', {}, 'Sessions and tokens'), h('section', {}, signIns, tokens)];
}

// ---- API clients ------------------------------------------------------------

function apiClientsPage() {
  const list = pagedList(() => api('GET', '/admin/api-clients'), (clients) => table(
    ['Name', 'Client id', 'Role', { text: 'Created', optional: true }, ''],
    clients.map((c) => {
      const st = h('span', { 'aria-live': 'polite' });
      return [c.name || '', h('code', {}, c.client_id), c.role, when(c.created_at),
        h('span', {}, actionButton('Revoke', st, async () => {
          await api('DELETE', `/admin/api-clients/${c.client_id}`);
          list.reload();
          return 'Revoked.';
        }, { ask: `Revoke ${c.name || c.client_id}? Its tokens stop working.`, danger: true }), st)];
    }), 'No API clients.'));
  const create = actionForm('Create an API client', [
    field('Name', 'name', { required: true, maxlength: 255 }),
    field('Organization id (empty: yours)', 'organization_id', { pattern: UUID }),
  ], 'Create', async (v) => {
    const r = await api('POST', '/admin/api-clients', v);
    list.reload();
    return r;
  }, (r) => {
    const secret = h('p', { class: 'secret' }, r.client_secret);
    const copy = h('button', { type: 'button', class: 'secondary' }, 'Copy secret');
    const copied = h('span', { role: 'status' });
    copy.addEventListener('click', async () => {
      try { await navigator.clipboard.writeText(r.client_secret); fill(copied, ' Copied.'); } catch (e) { fill(copied, ' Select the secret and copy it.'); }
    });
    return h('div', { class: 'notice' }, h('p', {}, `Client ${r.client_id} created. Its secret is shown once:`), secret, copy, copied);
  });
  return [h('h1', { tabindex: -1 }, 'API clients'), list.element, create];
}

// ---- audit ------------------------------------------------------------------

function auditTable(events, emptyText) {
  return table(['When', 'Action', 'Actor', { text: 'Targets', optional: true }], events.map((e) => {
    const a = e.attributes;
    return [when(a.occurred_at), link(`#/audit/${e.id}`, a.action), `${a.actor.type}:${a.actor.id}`, (a.targets || []).join(', ')];
  }), emptyText);
}

function auditPage() {
  let filters = {};
  const list = pagedList((page) => api('GET', `/v2/audit/events${query({
    page, per_page: PER_PAGE, 'q[actor]': filters.actor, 'q[target]': filters.target, 'q[action]': filters.action,
    'q[correlation_id]': filters.correlation_id,
    date_range_start: filters.from ? filters.from.replace('T', ' ') + ':00' : '',
    date_range_end: filters.to ? filters.to.replace('T', ' ') + ':00' : '',
  })}`), (events) => auditTable(events, 'No events match.'));
  const search = searchForm('Filter audit events', [
    field('Actor (user:<id>)', 'actor'), field('Target (user:<id>, organization:<id>)', 'target'),
    field('Action (user.create)', 'action'), field('Correlation id', 'correlation_id'),
    field('From (UTC)', 'from', { type: 'datetime-local' }), field('To (UTC)', 'to', { type: 'datetime-local' }),
  ], (values) => { filters = values; list.reload(); });
  return [h('h1', { tabindex: -1 }, 'Audit log'), search, list.element];
}

async function auditEventPage(id) {
  const e = (await api('GET', `/v2/audit/events/${encodeURIComponent(id)}`)).data.attributes;
  return [h('h1', { tabindex: -1 }, `Audit event ${id}`), h('section', {}, props([
    ['When', when(e.occurred_at)], ['Action', e.action], ['Actor', `${e.actor.type}:${e.actor.id}`],
    ['Targets', (e.targets || []).join(', ')], ['Outcome', e.outcome], ['Correlation id', e.correlation_id]])),
  h('h2', {}, 'As recorded'), h('pre', {}, JSON.stringify(e, null, 2)), link('#/audit', 'Back to the audit log')];
}

// ---- outbox -----------------------------------------------------------------

function outboxPage() {
  const status = h('div', { 'aria-live': 'polite' });
  const box = h('div', { 'aria-live': 'polite' });
  const show = async () => {
    fill(box, loading());
    try {
      const messages = (await api('GET', '/admin/outbox')).messages || [];
      fill(box, table(['#', 'Kind', 'To', 'Status', { text: 'Created', optional: true }, 'Deliveries'], messages.map((m) => [
        String(m.seq), m.kind, m.to, badge(m.status), when(m.created_at),
        (m.attempts || []).length
          ? h('details', {}, h('summary', {}, `${m.attempts.length} attempt(s)`),
            h('ul', {}, m.attempts.map((t) => h('li', {}, `${when(t.at)}: ${t.status}${t.error ? ` (${t.error})` : ''}`))))
          : 'none yet']), 'The outbox is empty.'));
    } catch (e) { fill(box, errorBox(e)); }
  };
  show();
  const deliver = actionButton('Deliver now', status, async () => {
    const r = await api('POST', '/admin/outbox/deliver');
    show();
    return `Attempted ${r.attempted}: ${r.delivered} delivered, ${r.failed} failed, ${r.pending} pending.`;
  });
  return [h('h1', { tabindex: -1 }, 'Outbox'), h('div', { class: 'actions' }, deliver), status, box];
}

// ---- router -----------------------------------------------------------------

const ROUTES = [
  [/^#\/?$/, overviewPage, '#/'],
  [/^#\/organizations$/, organizationsPage, '#/organizations'],
  [/^#\/organizations\/([^/]+)$/, organizationPage, '#/organizations'],
  [/^#\/users$/, usersPage, '#/users'],
  [/^#\/users\/([^/]+)$/, userPage, '#/users'],
  [/^#\/api-clients$/, apiClientsPage, '#/api-clients'],
  [/^#\/audit$/, auditPage, '#/audit'],
  [/^#\/audit\/([^/]+)$/, auditEventPage, '#/audit'],
  [/^#\/outbox$/, outboxPage, '#/outbox'],
];

let routing = 0;
async function route() {
  const turn = ++routing;
  const hash = location.hash || '#/';
  if (!me) {
    if (!signInView || !main.contains(signInView)) {
      signInView = signInPage();
      fill(main, signInView);
      main.querySelector('input').focus();
    }
    return;
  }
  if (hash === '#/sign-in') { location.hash = '#/'; return; }
  const found = ROUTES.find(([re]) => re.test(hash));
  for (const a of document.querySelectorAll('#nav a')) {
    if (found && a.getAttribute('href') === found[2]) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!found) { fill(main, h('h1', { tabindex: -1 }, 'Not found'), empty('No such page.'), link('#/', 'Overview')); return; }
  fill(main, loading());
  try {
    const args = found[0].exec(hash).slice(1).map(decodeURIComponent);
    const content = await found[1](...args);
    if (turn !== routing) return;
    fill(main, content);
  } catch (e) {
    if (turn !== routing) return;
    fill(main, h('h1', { tabindex: -1 }, 'Could not load this page'), errorBox(e));
  }
  const heading = main.querySelector('h1');
  if (heading) heading.focus();
}

window.addEventListener('hashchange', route);
loadSession().then(route, (e) => fill(main, errorBox(e)));
