// Building the page from data without ever parsing data as HTML: every
// string a server or a user supplied goes in as a text node.

/** An element: `attrs` are properties (`onclick`, `hidden`) or attributes
 *  (names with a dash, `for`, `role`); children are nodes, strings (text) or
 *  arrays of them; null and false are skipped. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    // Never a property that parses markup, whatever a caller passes.
    if (/html|srcdoc/i.test(key)) throw new Error(`h(): ${key} is not set from data`);
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      el.className = value;
    } else if (key.includes('-') || key === 'for' || key === 'role' || key === 'scope') {
      el.setAttribute(key, value === true ? '' : String(value));
    } else {
      el[key] = value;
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const loading = (what = 'Loading…') => h('p', { class: 'loading', role: 'status' }, what);
export const empty = (what) => h('p', { class: 'empty' }, what);

/** An error in words: the message, and each field's complaints. */
export function errorBox(error) {
  const fields = error && error.fields ? Object.entries(error.fields) : [];
  return h('div', { class: 'error', role: 'alert' },
    String((error && error.message) || error),
    fields.length ? h('ul', {}, fields.map(([f, msgs]) => h('li', {}, `${f}: ${[].concat(msgs).join(', ')}`))) : null);
}

export const notice = (text) => h('p', { class: 'notice', role: 'status' }, text);

/** A labelled input; `name` is the form field. */
export function field(label, name, attrs = {}) {
  return h('label', {}, label, h('input', { name, ...attrs }));
}

/** A labelled select of `[value, text]` options. */
export function choice(label, name, options, selected = '') {
  return h('label', {}, label,
    h('select', { name }, options.map(([value, text]) => h('option', { value, selected: value === selected }, text))));
}

/** A table with a header row, or `emptyText` when there are no rows. */
export function table(headers, rows, emptyText) {
  if (!rows.length) return empty(emptyText);
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col', class: t.optional ? 'optional' : null }, t.text || t)))),
    h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((c, i) => h('td', { class: headers[i].optional ? 'optional' : null }, c)))))));
}

/** Definition list of `[term, value]`. */
export function props(pairs) {
  return h('dl', { class: 'props' }, pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v === null || v === undefined || v === '' ? '—' : v)]));
}

export const badge = (text) => h('span', { class: `badge ${text}` }, text);

/** The form's fields as an object of strings, trimmed but for passwords
 *  (empty ones left out). */
export function formData(form) {
  const out = {};
  for (const [k, v] of new FormData(form).entries()) {
    const el = form.elements.namedItem(k);
    const s = el && el.type === 'password' ? String(v) : String(v).trim();
    if (s !== '') out[k] = s;
  }
  return out;
}

/** Runs `work` with `button` disabled and showing `busyText`: the progress
 *  of a long operation. */
export async function busy(button, busyText, work) {
  const text = button.textContent;
  button.disabled = true;
  button.textContent = busyText;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.textContent = text;
  }
}
