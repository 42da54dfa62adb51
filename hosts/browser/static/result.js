// The request preview and the Test request result, as the editor shows them.

import { clear, h, pretty, richText, statusText } from './dom.js';

const MASK = '••••••••';

const OUTCOMES = {
  succeeded: { icon: '✓', label: 'Succeeded' },
  accepted: { icon: '◔', label: 'Accepted', note: 'accepted for processing: not success yet' },
  rejected: { icon: '⚠', label: 'Rejected' },
  failed: { icon: '✕', label: 'Failed' },
  unreachable: { icon: '⌁', label: 'Unreachable' },
  invalid: { icon: '⊘', label: 'Invalid', note: 'nothing was sent' },
  'needs-confirmation': { icon: '?', label: 'Needs confirmation', note: 'an instance with this name and spec exists: nothing was minted until you confirm adopting it' },
  'engine-error': { icon: '⛔', label: 'Engine error' },
  'engine-unreachable': { icon: '⛔', label: 'Engine unreachable' },
  pending: { icon: '…', label: 'Sending' },
};

function badge(outcome) {
  const { icon, label } = OUTCOMES[outcome];
  return h('span', { class: `badge badge-${outcome}`, 'data-testid': 'outcome-badge' }, h('span', { class: 'badge-icon', 'aria-hidden': 'true' }, icon), ' ', label);
}

function headersTable(headers) {
  if (!headers.length) return h('p', { class: 'muted' }, 'no headers');
  return h(
    'table',
    { class: 'headers' },
    h('tbody', {}, headers.map(({ name, value }) => h('tr', {}, h('th', { scope: 'row' }, name), h('td', {}, value)))),
  );
}

function bodyBlock(text, label) {
  return h('pre', { class: 'body', 'aria-label': label, tabindex: '0' }, pretty(text));
}

function requestBlock(request, title = 'Request', className = 'exchange request') {
  return h(
    'section',
    { class: className, 'aria-label': title },
    h('h4', {}, title),
    h('p', { class: 'request-line' }, h('span', { class: 'method' }, request.method), ' ', h('span', { class: 'url' }, request.url)),
    headersTable(request.headers),
    request.body !== undefined && request.body !== null ? bodyBlock(request.body, `${title} body`) : h('p', { class: 'muted' }, 'no body'),
  );
}

/** `METHOD URL → status` (or the error) of one exchange, with its masked request and
 * response behind a disclosure. */
function exchangeItem(exchange, index) {
  const { request, response, error } = exchange;
  const answer = response
    ? h('span', { class: `status status-${Math.floor(response.status / 100)}xx` }, statusText(response.status))
    : h('span', { class: 'exchange-error' }, error ?? 'no answer');
  return h(
    'li',
    { class: 'exchange-item', 'data-testid': 'exchange', dataset: { method: request.method, status: response ? String(response.status) : '' } },
    h(
      'details',
      {},
      h('summary', {}, h('span', { class: 'method' }, request.method), ' ', h('span', { class: 'url' }, request.url), ' → ', answer),
      requestBlock(request, `Request ${index + 1}`, 'exchange-part exchange-request'),
      response
        ? h(
            'section',
            { class: 'exchange-part exchange-response', 'aria-label': `Response ${index + 1}` },
            h('h4', {}, `Response ${index + 1}`, response.truncated ? h('span', { class: 'tag truncated' }, 'truncated') : null),
            headersTable(response.headers),
            response.body ? bodyBlock(response.body, `Response ${index + 1} body`) : h('p', { class: 'muted' }, 'empty body'),
          )
        : h('p', { class: 'muted' }, `No answer: ${error ?? 'none came'}.`),
    ),
  );
}

/** Every exchange the call made, in order: the create, then adopt's lookups and mint. */
function exchangesList(exchanges) {
  return h(
    'section',
    { class: 'exchanges', 'aria-label': 'Exchanges' },
    h('h4', {}, `Exchanges (${exchanges.length})`),
    h('ol', { class: 'exchange-list' }, exchanges.map(exchangeItem)),
  );
}

/** The id a `needs-confirmation` result would adopt, or null when it cannot be told.
 *
 * From the exchanges, not the summary's wording: the last lookup is a `GET …/{id}` (the id is
 * its URL's last segment) or a listing page, whose items named like the create's `spec.name`
 * are the candidates. The summary must name the candidate (which tells duplicates apart);
 * failing that, the id the summary names after "Would adopt the existing …". */
export function adoptionId(result) {
  const exchanges = result.exchanges ?? [];
  const name = (() => {
    try {
      return JSON.parse(result.request?.body ?? 'null')?.spec?.name ?? null;
    } catch {
      return null;
    }
  })();
  const createPath = exchanges.length ? pathOf(exchanges[0].request.url) : null;
  let candidates = [];
  for (const exchange of exchanges.slice(1).reverse()) {
    if (exchange.request.method !== 'GET' || createPath === null) continue;
    const path = pathOf(exchange.request.url);
    if (path?.startsWith(createPath + '/')) candidates = [decodeURIComponent(path.slice(createPath.length + 1))];
    else if (exchange.response && name !== null) candidates = listedIds(exchange.response.body, name);
    if (candidates.length) break;
  }
  const named = candidates.find((id) => id && result.summary.includes(id));
  if (named) return named;
  const match = /Would adopt the existing .*? (\S+) \(/.exec(result.summary);
  return match ? match[1] : null;
}

function pathOf(url) {
  try {
    return new URL(url).pathname.replace(/\/+$/, '');
  } catch {
    return null;
  }
}

function listedIds(body, name) {
  let page;
  try {
    page = JSON.parse(body);
  } catch {
    return [];
  }
  const items = Array.isArray(page?.dedicated_inferences) ? page.dedicated_inferences : [];
  return items.filter((item) => item && typeof item.id === 'string' && (item.spec?.name === name || item.name === name)).map((item) => item.id);
}

function diagnosticsList(diagnostics, onReveal) {
  return h(
    'ul',
    { class: 'diagnostics' },
    diagnostics.map((d) =>
      h(
        'li',
        { class: `diagnostic ${d.severity}` },
        h(
          'button',
          { type: 'button', class: 'link', onclick: () => onReveal?.(d.path), title: 'Show this place in the editor' },
          h('span', { class: 'severity' }, d.severity),
          ' ',
          h('span', { class: 'diag-path' }, d.path),
        ),
        ': ',
        richText(d.message),
      ),
    ),
  );
}

/** The once-returned secrets, masked until revealed; the value stays out of the DOM until then. */
function revealedSecrets(secrets) {
  return h(
    'section',
    { class: 'revealed', 'aria-label': 'Returned once' },
    h('h4', {}, 'Returned once'),
    h(
      'p',
      { class: 'store-warning', role: 'alert' },
      h('strong', {}, 'Store it now. '),
      'The API returns this token only once, with this answer: it cannot be read again. Copy it into your secret store before you send another request or leave this page.',
    ),
    secrets.map(([name, value]) => {
      const shown = h('code', { class: 'secret-value', 'data-testid': 'secret-value' }, MASK);
      const status = h('span', { class: 'copy-status', 'aria-live': 'polite' });
      const reveal = h('button', { type: 'button', 'aria-pressed': 'false' }, 'Reveal');
      reveal.addEventListener('click', () => {
        const on = reveal.getAttribute('aria-pressed') !== 'true';
        reveal.setAttribute('aria-pressed', String(on));
        reveal.textContent = on ? 'Hide' : 'Reveal';
        shown.textContent = on ? value : MASK;
      });
      const copy = h('button', { type: 'button' }, 'Copy');
      copy.addEventListener('click', async () => {
        try {
          await navigator.clipboard.writeText(value);
          status.textContent = 'Copied to the clipboard.';
        } catch {
          status.textContent = 'The browser refused the clipboard: reveal it and copy it by hand.';
        }
      });
      return h('div', { class: 'secret-row' }, h('span', { class: 'secret-name' }, name), ' ', shown, ' ', reveal, ' ', copy, ' ', status);
    }),
  );
}

/** Fills `container` with a test-result (camelCase, as jco gives records). */
export function showResult(container, result, { credential, onReveal, note: extraNote } = {}) {
  const outcome = result.outcome;
  const { note } = OUTCOMES[outcome] ?? {};
  const response = result.response;
  let detail;
  if (response) detail = statusText(response.status);
  else if (outcome === 'invalid') detail = 'nothing sent';
  else detail = 'no response';
  const elapsed = `${result.elapsedMs} ms`;
  clear(
    container,
    h(
      'div',
      { class: `result result-${outcome}`, 'data-outcome': outcome },
      h('div', { class: 'result-head' }, badge(outcome), h('span', { class: 'result-status' }, detail), h('span', { class: 'elapsed', title: 'elapsed time' }, response ? `in ${elapsed}` : `after ${elapsed}`)),
      note ? h('p', { class: 'outcome-note' }, note) : null,
      h('p', { class: 'summary', 'data-testid': 'summary' }, richText(result.summary)),
      extraNote ? h('p', { class: 'outcome-note', 'data-testid': 'result-note' }, extraNote) : null,
      result.revealedSecrets.length ? revealedSecrets(result.revealedSecrets) : null,
      result.diagnostics.length
        ? h('section', { class: 'result-diagnostics', 'aria-label': 'Diagnostics' }, h('h4', {}, 'Diagnostics'), diagnosticsList(result.diagnostics, onReveal))
        : h('p', { class: 'result-diagnostics muted' }, 'No diagnostics.'),
      response
        ? h(
            'section',
            { class: 'exchange response', 'aria-label': 'Response' },
            h('h4', {}, 'Response', response.truncated ? h('span', { class: 'tag truncated', 'data-testid': 'truncated' }, 'truncated') : null),
            h('p', { class: 'status-line' }, h('span', { class: `status status-${Math.floor(response.status / 100)}xx` }, statusText(response.status))),
            headersTable(response.headers),
            response.body ? bodyBlock(response.body, 'Response body') : h('p', { class: 'muted' }, 'empty body'),
            response.truncated ? h('p', { class: 'truncated-note' }, 'The body was cut at the display limit: only its first 1 MiB is shown.') : null,
          )
        : h('p', { class: 'muted no-response' }, outcome === 'invalid' ? 'No response: nothing was sent.' : 'No response arrived.'),
      result.request ? requestBlock(result.request) : h('p', { class: 'muted' }, 'The request did not render: nothing was sent.'),
      result.exchanges?.length ? exchangesList(result.exchanges) : null,
      credential?.name
        ? h('p', { class: 'credential-note muted' }, 'Credential ', h('code', {}, credential.name), credential.source ? [' resolved by the engine from ', h('code', {}, credential.source)] : ' not resolved', '; the token stays with the engine.')
        : null,
    ),
  );
}

/** The engine answered with an error of its own (nothing or maybe something was sent). */
export function showEngineError(container, status, answer) {
  const message = answer?.message ?? `The engine answered ${statusText(status)} without an explanation.`;
  const sentNothing = status >= 400 && status < 500;
  clear(
    container,
    h(
      'div',
      { class: 'result result-engine-error', 'data-outcome': 'engine-error' },
      h('div', { class: 'result-head' }, badge('engine-error'), h('span', { class: 'result-status' }, `engine answered ${statusText(status)}`)),
      h('p', { class: 'summary', 'data-testid': 'summary' }, richText(message)),
      h(
        'p',
        { class: 'outcome-note' },
        sentNothing
          ? 'The engine refused the test request: nothing was sent to the API.'
          : 'The engine failed while running the test request: whether it reached the API is unknown. Check GET /v2/dedicated-inferences before you try again, so as not to create it twice.',
      ),
    ),
  );
}

/** The engine did not answer at all (stopped, network failure). */
export function showEngineUnreachable(container, error) {
  clear(
    container,
    h(
      'div',
      { class: 'result result-engine-unreachable', 'data-outcome': 'engine-unreachable' },
      h('div', { class: 'result-head' }, badge('engine-unreachable'), h('span', { class: 'result-status' }, 'no answer from the local engine')),
      h('p', { class: 'summary', 'data-testid': 'summary' }, `The local engine did not answer (${error?.message ?? error}). Is scripts/editor still running?`),
      h('p', { class: 'outcome-note' }, 'If the request was already on its way, it may have reached the API: check GET /v2/dedicated-inferences before you try again, so as not to create it twice.'),
    ),
  );
}

export function showPending(container, target) {
  clear(
    container,
    h(
      'div',
      { class: 'result result-pending', 'data-outcome': 'pending', 'aria-busy': 'true' },
      h('div', { class: 'result-head' }, badge('pending'), h('span', { class: 'result-status' }, target ? `to ${target}` : '')),
    ),
  );
}

/** The live request preview: render's Ok, or why there is none. */
export function showPreview(container, rendered) {
  if (!rendered) {
    clear(container, h('p', { class: 'muted' }, 'No task definition yet.'));
  } else if (rendered.ok) {
    // render's Ok (0.2.0): the masked request and its warnings (shown under Problems).
    clear(container, h('div', { class: 'preview preview-ok', 'data-state': 'ok' }, requestBlock(rendered.ok.request, 'Request that would be sent')));
  } else {
    const errors = rendered.err.filter((d) => d.severity === 'error').length;
    clear(
      container,
      h(
        'div',
        { class: 'preview preview-blocked', 'data-state': 'blocked' },
        h('p', {}, h('strong', {}, `${errors} ${errors === 1 ? 'error' : 'errors'}`), ' keep this request from being sent: see Problems. Test request would report it as invalid and send nothing.'),
      ),
    );
  }
}
