// The form view of the task definition and parameters, generated from describe(): one input
// per documented header and body field (its type, required, valid values and default), the
// definition's own settings, and one input per parameter. It edits the same JSON as the text
// editors: every input writes its value at its path, and the form is rebuilt from the JSON
// whenever the text changes.

import { formatPath, getAt, isObject, parsePath, setAt } from './paths.js';
import { clear, h, richText } from './dom.js';

/** The HTTP task definition's own settings (docs/definition.md, "Fields"); headers and body come from describe(). */
function envelopeFields(info) {
  return [
    { path: 'type', typeName: 'string', required: false, allowedValues: ['Http'], description: 'The task type; anything but `Http` is warned about.' },
    { path: 'description', typeName: 'string', required: false, allowedValues: [], description: 'What this task does, for the people who read the workflow.' },
    { path: 'credentials', typeName: 'string', required: false, allowedValues: [], description: 'The name of the credential the engine resolves to the API token (the `token` secret). The token itself never reaches this page.' },
    { path: 'httpRequest.method', typeName: 'string', required: true, allowedValues: [info.method], description: `This task performs ${info.method}.` },
    { path: 'httpRequest.url', typeName: 'string', required: true, allowedValues: [], suggestions: [`${info.server}${info.path}`], description: `Absolute \`https://\` URL, e.g. \`${info.server}${info.path}\`; \`http://\` only for loopback hosts (local stand-ins). Placeholders may fill the path and query.` },
    { path: 'retry', typeName: 'object', required: false, allowedValues: [], description: 'For the engine: its retry policy (`intervalSeconds`, `maxAttempts`, `backoffRate`), written as JSON. The component itself never retries.' },
    { path: 'connectionTimeoutSeconds', typeName: 'integer', required: false, allowedValues: [], defaultValue: '5', description: 'Connect timeout, 1 to 3600 seconds.' },
    { path: 'readTimeoutSeconds', typeName: 'integer', required: false, allowedValues: [], defaultValue: '10', description: 'First-byte and between-bytes timeouts, 1 to 3600 seconds.' },
  ];
}
const ENVELOPE_KEYS = new Set(['type', 'description', 'retry', 'credentials', 'httpRequest', 'connectionTimeoutSeconds', 'readTimeoutSeconds']);
const REQUEST_KEYS = new Set(['url', 'method', 'headers', 'body']);

/** describe()'s flat body fields as a tree: `a[].b` is child `b` of the items of array `a`. */
function fieldTree(fields) {
  const root = { children: new Map() };
  for (const field of fields) {
    let node = root;
    for (const part of field.path.replace(/\[\]/g, '.[]').split('.')) {
      if (!node.children.has(part)) node.children.set(part, { children: new Map() });
      node = node.children.get(part);
    }
    node.info = field;
  }
  return root;
}

function modeOf(typeName) {
  return { string: 'string', integer: 'number', number: 'number', boolean: 'boolean' }[typeName] ?? 'json';
}

function modeOfValue(value) {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'number') return 'number';
  if (typeof value === 'boolean') return 'boolean';
  return 'json';
}

/** A value as its input shows it: strings as they are (placeholders too), the rest as JSON. */
function display(value, mode) {
  if (value === undefined) return '';
  if (mode !== 'json' && typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** An input's text as the JSON value to write; an empty input removes the member. */
function parse(text, mode) {
  if (text === '') return { value: undefined };
  if (mode === 'number' && /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(text.trim())) return { value: Number(text) };
  if (mode === 'boolean' && (text === 'true' || text === 'false')) return { value: text === 'true' };
  if (mode === 'json') {
    try {
      return { value: JSON.parse(text) };
    } catch {
      return { error: 'not valid JSON yet: write a JSON value, e.g. {"key": "value"} or "${$.param}"' };
    }
  }
  return { value: text };
}

let datalistCount = 0;

export class TaskForm {
  /**
   * @param element  the <form>
   * @param info     describe()'s operation-info
   * @param onEdit   (part: 'definition'|'parameters', segments, value|undefined, whole) after an input changed a value
   */
  constructor(element, info, { onEdit }) {
    this.element = element;
    this.info = info;
    this.onEdit = onEdit;
    this.bodyTree = fieldTree(info.bodyFields);
    this.definition = undefined;
    this.parameters = undefined;
    this.diagnostics = [];
    element.addEventListener('submit', (event) => event.preventDefault());
  }

  /** Rebuilds the form from the parsed JSON (`undefined` when a text is empty, an Error when it does not parse). */
  update(definition, parameters) {
    this.definition = definition;
    this.parameters = parameters;
    const focused = document.activeElement?.closest?.('[data-focus-key]') && this.element.contains(document.activeElement) ? document.activeElement : null;
    const focusKey = focused?.dataset.focusKey;
    const selection = focused && 'selectionStart' in focused ? [focused.selectionStart, focused.selectionEnd] : null;
    datalistCount = 0;
    clear(
      this.element,
      h('div', { class: 'form-problems field-problems', dataset: { path: 'definition' }, role: 'status' }),
      this._definitionPart(),
      this._parametersPart(),
    );
    if (focusKey) {
      const again = this.element.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`);
      if (again) {
        again.focus();
        if (selection && 'setSelectionRange' in again) {
          try {
            again.setSelectionRange(...selection);
          } catch {
            // not a text input
          }
        }
      }
    }
    this.showDiagnostics(this.diagnostics);
  }

  _definitionPart() {
    const definition = this.definition;
    if (definition === undefined) {
      return h('p', { class: 'form-note' }, 'No task definition yet: click ', h('strong', {}, 'Use this'), ' in the API reference.');
    }
    if (definition instanceof Error || !isObject(definition)) {
      return h('p', { class: 'form-note error' }, 'The definition is not a JSON object: fix it in the JSON view; the form follows.');
    }
    const envelope = envelopeFields(this.info);
    const byPath = new Map(envelope.map((field) => [field.path, field]));
    const task = h(
      'fieldset',
      { class: 'group', dataset: { path: '' } },
      h('legend', {}, 'Task'),
      ['type', 'description', 'credentials', 'retry', 'connectionTimeoutSeconds', 'readTimeoutSeconds'].map((path) => this._leaf('definition', [path], byPath.get(path), path)),
      Object.keys(definition)
        .filter((key) => !ENVELOPE_KEYS.has(key))
        .map((key) => this._leaf('definition', [key], null, key)),
      this._problems(),
    );
    const request = isObject(definition.httpRequest) ? definition.httpRequest : {};
    const requestGroup = h(
      'fieldset',
      { class: 'group', dataset: { path: 'httpRequest' } },
      h('legend', {}, 'HTTP request'),
      this._leaf('definition', ['httpRequest', 'method'], byPath.get('httpRequest.method'), 'method'),
      this._leaf('definition', ['httpRequest', 'url'], byPath.get('httpRequest.url'), 'url'),
      Object.keys(request)
        .filter((key) => !REQUEST_KEYS.has(key))
        .map((key) => this._leaf('definition', ['httpRequest', key], null, key)),
      this._problems(),
    );
    return [task, requestGroup, this._headers(request.headers), this._body(request.body)];
  }

  _headers(headers) {
    const present = isObject(headers) ? headers : {};
    const documented = this.info.headers;
    const rows = [];
    const shown = new Set();
    for (const field of documented) {
      const key = Object.keys(present).find((name) => name.toLowerCase() === field.path.toLowerCase()) ?? field.path;
      shown.add(key.toLowerCase());
      rows.push(this._leaf('definition', ['httpRequest', 'headers', key], field, key));
    }
    for (const key of Object.keys(present)) {
      if (shown.has(key.toLowerCase())) continue;
      rows.push(this._leaf('definition', ['httpRequest', 'headers', key], { typeName: 'string', description: 'A header of your own.', allowedValues: [] }, key, { removable: true }));
    }
    const name = h('input', { type: 'text', class: 'new-header-name', 'aria-label': 'New header name', placeholder: 'Header-Name', dataset: { focusKey: 'new-header-name' } });
    const value = h('input', { type: 'text', class: 'new-header-value', 'aria-label': 'New header value', placeholder: 'value', dataset: { focusKey: 'new-header-value' } });
    const add = () => {
      const headerName = name.value.trim();
      if (!headerName) return name.focus();
      this._edit('definition', ['httpRequest', 'headers', headerName], value.value, true);
      this.element.querySelector(`[data-focus-key="${CSS.escape(`definition:httpRequest.headers.${headerName}`)}"]`)?.focus();
    };
    const enter = (event) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        add();
      }
    };
    name.addEventListener('keydown', enter);
    value.addEventListener('keydown', enter);
    return h(
      'fieldset',
      { class: 'group', dataset: { path: 'httpRequest.headers' } },
      h('legend', {}, 'Headers'),
      rows,
      h('div', { class: 'add-header' }, name, value, h('button', { type: 'button', onclick: add }, 'Add header')),
      this._problems(),
    );
  }

  _body(body) {
    return h(
      'fieldset',
      { class: 'group', dataset: { path: 'httpRequest.body' } },
      h('legend', {}, 'Body'),
      body !== undefined && !isObject(body)
        ? this._leaf('definition', ['httpRequest', 'body'], { typeName: 'object', description: 'The whole body.', allowedValues: [] }, 'body')
        : this._object(['httpRequest', 'body'], this.bodyTree, isObject(body) ? body : {}),
      this._problems(),
    );
  }

  /** The members of a documented object, then any undocumented ones it has. */
  _object(segments, node, value) {
    const parts = [];
    for (const [key, child] of node.children) {
      if (key === '[]') continue;
      parts.push(this._node([...segments, key], child, value[key]));
    }
    for (const key of Object.keys(value)) {
      if (!node.children.has(key)) parts.push(this._leaf('definition', [...segments, key], null, key));
    }
    return parts;
  }

  _node(segments, node, value) {
    const info = node.info ?? { typeName: node.children.has('[]') ? 'array' : 'object', required: false, description: '', allowedValues: [] };
    const key = segments[segments.length - 1];
    const items = node.children.get('[]');
    const path = formatPath(segments);
    if (info.typeName === 'array' && items && items.children.size && (value === undefined || Array.isArray(value))) {
      const list = Array.isArray(value) ? value : [];
      return h(
        'fieldset',
        { class: 'array', dataset: { path } },
        h('legend', {}, key, ' ', this._tags(info)),
        info.description ? h('p', { class: 'hint' }, richText(info.description)) : null,
        list.map((item, index) =>
          h(
            'fieldset',
            { class: 'array-item', dataset: { path: formatPath([...segments, index]) } },
            h('legend', {}, `${key}[${index}]`, ' ', h('button', { type: 'button', class: 'link', 'aria-label': `Remove ${key}[${index}]`, onclick: () => this._edit('definition', [...segments, index], undefined, true) }, 'remove')),
            isObject(item) ? this._object([...segments, index], items, item) : this._leaf('definition', [...segments, index], { typeName: 'object', description: '', allowedValues: [] }, `${key}[${index}]`),
            this._problems(),
          ),
        ),
        h('button', { type: 'button', class: 'add-item', onclick: () => this._edit('definition', segments, [...list, {}], true) }, `Add ${key} item`),
        this._problems(),
      );
    }
    if (info.typeName === 'object' && node.children.size && (value === undefined || isObject(value))) {
      return h(
        'fieldset',
        { class: 'object', dataset: { path } },
        h('legend', {}, key, ' ', this._tags(info)),
        info.description ? h('p', { class: 'hint' }, richText(info.description)) : null,
        this._object(segments, node, value ?? {}),
        this._problems(),
      );
    }
    return this._leaf('definition', segments, info, key);
  }

  _tags(info) {
    return [
      h('span', { class: `type type-${info.typeName}` }, info.typeName),
      info.required ? h('span', { class: 'required' }, 'required') : null,
    ];
  }

  _problems() {
    return h('div', { class: 'field-problems', role: 'status' });
  }

  /** One input: label with type and required, hint, valid values, default as placeholder. */
  _leaf(part, segments, info, label, { removable = false } = {}) {
    const root = part === 'definition' ? this.definition : this.parameters;
    const value = getAt(root, segments);
    const known = info ?? { typeName: 'any', required: false, description: 'Not documented for this operation: a string, or any JSON value written as JSON.', allowedValues: [] };
    const mode = info ? (typeof value === 'string' && modeOf(known.typeName) === 'json' ? 'string' : modeOf(known.typeName)) : value === undefined || typeof value === 'string' ? 'string' : 'json';
    const path = part === 'definition' ? formatPath(segments) : formatPath(['parameters', ...segments]);
    const id = `f-${path.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    const values = [...(known.allowedValues ?? []), ...(known.suggestions ?? [])];
    if (known.typeName === 'boolean') values.push('true', 'false');
    let list = null;
    if (values.length) {
      list = h('datalist', { id: `dl-${datalistCount++}` }, values.map((v) => h('option', { value: v })));
    }
    const problems = h('div', { class: 'field-problems', id: `${id}-problems`, role: 'status' });
    const input = h('input', {
      type: 'text',
      id,
      name: path,
      value: display(value, mode),
      placeholder: known.defaultValue !== undefined && known.defaultValue !== null ? `default: ${known.defaultValue}` : value !== undefined ? null : path === 'httpRequest.headers.Authorization' ? '(added from the credential\'s token)' : '(not set)',
      list: list ? list.id : null,
      autocomplete: 'off',
      spellcheck: 'false',
      'aria-describedby': `${id}-hint ${id}-problems`,
      dataset: { path, focusKey: `${part}:${path}`, mode },
    });
    input.addEventListener('input', () => {
      const parsed = parse(input.value, mode);
      if (parsed.error) {
        input.setAttribute('aria-invalid', 'true');
        clear(problems, h('p', { class: 'problem error local' }, parsed.error));
        return;
      }
      this._edit(part, segments, parsed.value, false);
    });
    return h(
      'div',
      { class: 'field', dataset: { path } },
      h(
        'label',
        { for: id },
        h('span', { class: 'label-text' }, label),
        ' ',
        h('span', { class: `type type-${known.typeName}` }, known.typeName),
        known.required ? h('span', { class: 'required' }, 'required') : null,
      ),
      h('div', { class: 'input-row' }, input, list, removable ? h('button', { type: 'button', class: 'link', 'aria-label': `Remove ${label}`, onclick: () => this._edit(part, segments, undefined, true) }, 'remove') : null),
      h('p', { class: 'hint', id: `${id}-hint` }, known.description ? richText(known.description) : null, known.allowedValues?.length ? [' Valid values: ', known.allowedValues.map((v, i) => [i ? ', ' : '', h('code', {}, v)]), '.'] : null),
      problems,
    );
  }

  _parametersPart() {
    const parameters = this.parameters;
    let content;
    if (parameters === undefined) content = h('p', { class: 'form-note' }, 'No parameters.');
    else if (parameters instanceof Error || !isObject(parameters)) content = h('p', { class: 'form-note error' }, 'The parameters are not a JSON object: fix them in the JSON view; the form follows.');
    else content = this._parameterObject([], parameters);
    return h(
      'fieldset',
      { class: 'group', dataset: { path: 'parameters' } },
      h('legend', {}, 'Parameters'),
      h('p', { class: 'hint' }, 'The task input the ', h('code', {}, '${...}'), ' placeholders read (', h('code', {}, '$'), ' is this object). Add or remove parameters in the JSON view.'),
      content,
      this._problems(),
    );
  }

  _parameterObject(segments, object) {
    return Object.entries(object).map(([key, value]) => {
      const path = [...segments, key];
      if (isObject(value)) {
        return h('fieldset', { class: 'object', dataset: { path: formatPath(['parameters', ...path]) } }, h('legend', {}, key), this._parameterObject(path, value), this._problems());
      }
      const typeName = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
      return this._leaf('parameters', path, { typeName, required: false, description: '', allowedValues: [] }, key);
    });
  }

  _edit(part, segments, value, structural) {
    const whole = part === 'definition' ? this.definition : this.parameters;
    setAt(whole, segments, value);
    this.onEdit(part, segments, value, whole);
    if (structural) this.update(this.definition, this.parameters);
  }

  /** Shows each diagnostic at its field; a path with no input of its own at the nearest group. */
  showDiagnostics(diagnostics) {
    this.diagnostics = diagnostics;
    for (const box of this.element.querySelectorAll('.field-problems')) {
      for (const problem of box.querySelectorAll('.problem:not(.local)')) problem.remove();
    }
    for (const input of this.element.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
    for (const marked of this.element.querySelectorAll('.has-error, .has-warning')) marked.classList.remove('has-error', 'has-warning');
    for (const diagnostic of diagnostics) {
      const { container, exact } = this._place(diagnostic.path);
      container.classList.add(diagnostic.severity === 'error' ? 'has-error' : 'has-warning');
      const box = container.matches('.form-problems') ? container : container.querySelector(':scope > .field-problems');
      box?.append(
        h('p', { class: `problem ${diagnostic.severity}`, dataset: { path: diagnostic.path } }, exact ? null : h('span', { class: 'diag-path' }, diagnostic.path, ': '), richText(diagnostic.message)),
      );
      if (exact && container.matches('.field') && diagnostic.severity === 'error') {
        container.querySelector('input')?.setAttribute('aria-invalid', 'true');
      }
    }
  }

  _place(path) {
    const top = this.element.querySelector('.form-problems');
    if (path === 'definition') return { container: top, exact: false };
    let segments = parsePath(path);
    let exact = true;
    while (segments.length) {
      const found = this.element.querySelector(`[data-path="${CSS.escape(formatPath(segments))}"]:not(.problem)`);
      if (found) return { container: found, exact: exact && found.matches('.field') };
      segments = segments.slice(0, -1);
      exact = false;
    }
    return { container: top, exact: false };
  }

  /** Focuses the input of `path` (or its group). */
  reveal(path) {
    const { container } = this._place(path);
    container.scrollIntoView({ block: 'center' });
    (container.querySelector('input') ?? container).focus?.();
  }
}
