// The API reference panel, from the component's describe().

import { clear, h, richText } from './dom.js';

function valuesCell(values) {
  return values.length ? values.map((value, i) => [i ? ', ' : '', h('code', {}, value)]) : '—';
}

function fieldName(path) {
  // `spec.model_deployments[].accelerators[].scale`: the last part stands out, the parents
  // say where it lives.
  const cut = Math.max(path.lastIndexOf('.'), -1);
  const depth = (path.match(/\./g) ?? []).length;
  return h(
    'span',
    { class: 'field-name', style: `padding-left: ${depth * 0.9}em` },
    cut >= 0 ? h('span', { class: 'field-parent' }, path.slice(0, cut + 1)) : null,
    h('strong', {}, path.slice(cut + 1)),
  );
}

function fieldTable(caption, fields) {
  return h(
    'table',
    { class: 'reference-table' },
    h('caption', {}, caption),
    h(
      'thead',
      {},
      h('tr', {}, h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col' }, 'Required'), h('th', { scope: 'col' }, 'Default')),
    ),
    h(
      'tbody',
      {},
      fields.map((field) => [
        h(
          'tr',
          { class: 'field-row', dataset: { field: field.path } },
          h('th', { scope: 'row' }, fieldName(field.path)),
          h('td', {}, h('span', { class: `type type-${field.typeName}` }, field.typeName)),
          h('td', {}, field.required ? h('span', { class: 'required' }, 'required') : h('span', { class: 'optional' }, 'optional')),
          h('td', {}, field.defaultValue !== undefined ? h('code', {}, field.defaultValue) : '—'),
        ),
        h(
          'tr',
          { class: 'field-description' },
          h(
            'td',
            { colspan: 4 },
            richText(field.description),
            field.allowedValues.length ? h('span', { class: 'valid-values' }, ' Valid values: ', valuesCell(field.allowedValues), '.') : null,
          ),
        ),
      ]),
    ),
  );
}

/** Fills `container` with the operation's reference; `onUse` loads the ready definition. */
export function renderReference(container, info, { onUse }) {
  clear(
    container,
    h('div', { class: 'operation' }, h('span', { class: 'method-badge' }, info.method), h('code', { class: 'operation-path' }, info.path)),
    h('p', { class: 'operation-server' }, 'Server ', h('code', {}, info.server)),
    h('h3', { class: 'operation-summary' }, info.summary),
    h('p', { class: 'operation-description' }, richText(info.description)),
    h(
      'div',
      { class: 'use-this' },
      h('button', { type: 'button', class: 'primary', onclick: onUse }, 'Use this'),
      h('span', { class: 'muted' }, ' loads the ready task definition and example parameters'),
    ),
    h(
      'div',
      { class: 'placeholders' },
      h('h4', {}, 'Placeholders'),
      h(
        'p',
        {},
        'Any string of the URL\'s path and query, a header value or the body may hold them. JSONPath: ',
        h('code', {}, '"scale": "${$.model.scale}"'),
        '. JSONata, to compute a value: ',
        h('code', { class: 'jsonata-example' }, '"name": "${jsonata: $lowercase(team) & \'-llm\'}"'),
        '. A string that is one placeholder keeps the value\'s type; ',
        h('code', {}, '$${'),
        ' is a literal ',
        h('code', {}, '${'),
        '.',
      ),
    ),
    fieldTable('Headers', info.headers),
    fieldTable('Body fields', info.bodyFields),
  );
}
