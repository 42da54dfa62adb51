// The editor page: the component (jco's sync build) runs describe() for the reference and
// render() on every edit, here in the browser; Test request goes to the local engine, which
// runs the same component in wasmtime with the credentials it resolves itself.

import { JsonEditor, programmatic } from './json-editor.js';
import { TaskForm } from './form.js';
import { renderReference } from './reference.js';
import { adoptionId, showEngineError, showEngineUnreachable, showPending, showPreview, showResult } from './result.js';
import { clear, h, isLoopback, richText } from './dom.js';

const RENDER_DELAY_MS = 150;
// What render() gets as the `token` secret when the definition names credentials: the real
// token stays with the engine; this stand-in value is masked like any secret in the preview.
const CREDENTIAL_PLACEHOLDER = 'credential-resolved-by-the-engine';

const $ = (selector) => document.querySelector(selector);

function banner(message, kind = 'error') {
  const element = $('#banner');
  element.hidden = false;
  element.className = `banner banner-${kind}`;
  clear(element, richText(message));
}

function parseOrError(text) {
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    return error;
  }
}

function credentialName(definition) {
  const parsed = parseOrError(definition);
  return parsed && typeof parsed === 'object' && typeof parsed.credentials === 'string' && parsed.credentials ? parsed.credentials : null;
}

/** The definition with the scheme and authority of `httpRequest.url` replaced by `origin`'s. */
function pointAt(definitionText, origin) {
  const definition = JSON.parse(definitionText);
  const url = definition?.httpRequest?.url;
  const match = typeof url === 'string' ? /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(url) : null;
  if (match) definition.httpRequest.url = origin + url.slice(match[0].length);
  return JSON.stringify(definition, null, 2) + '\n';
}

async function loadComponent() {
  const started = performance.now();
  const module = await import('/task/task.js');
  return { task: module.task, loadMs: performance.now() - started };
}

async function loadConfig() {
  const answer = await fetch('/api/config');
  if (!answer.ok) throw new Error(`the engine answered ${answer.status}`);
  return answer.json();
}

function describeTarget(config) {
  const chip = $('#target-chip');
  if (!config) {
    chip.className = 'chip chip-error';
    chip.textContent = 'Engine not reachable';
    return;
  }
  if (config.mode === 'real') {
    chip.className = 'chip chip-real';
    chip.textContent = `Target: ${new URL(config.target).host} — real API, billed`;
  } else {
    chip.className = 'chip chip-standin';
    chip.textContent = `Target: local stand-in ${new URL(config.target).host}`;
  }
  chip.title = `Credentials are resolved by the engine from: ${config.credentialSources.join('; ') || 'nothing'}`;
}

/** Shows the dialog `#<id>` (buttons `#<id>-send` and `#<id>-cancel`); resolves true when
 * the person chose send. Cancel is focused: Enter or Escape never confirms. */
function ask(id) {
  const dialog = $(`#${id}`);
  return new Promise((resolve) => {
    const done = (answer) => () => {
      dialog.close(answer);
    };
    const send = $(`#${id}-send`);
    const cancel = $(`#${id}-cancel`);
    const onSend = done('send');
    const onCancel = done('cancel');
    send.addEventListener('click', onSend, { once: true });
    cancel.addEventListener('click', onCancel, { once: true });
    dialog.addEventListener(
      'close',
      () => {
        send.removeEventListener('click', onSend);
        cancel.removeEventListener('click', onCancel);
        resolve(dialog.returnValue === 'send');
      },
      { once: true },
    );
    dialog.returnValue = 'cancel';
    dialog.showModal();
    cancel.focus();
  });
}

/** Asks before a request that may create a real, billed resource. Resolves true to send. */
function confirmBilled(host) {
  $('#confirm-billed-host').textContent = host;
  return ask('confirm-billed');
}

/** Asks before adopting instance `id` and minting a token for it (`needs-confirmation`). */
function confirmAdopt(id) {
  $('#confirm-adopt-id').textContent = id;
  return ask('confirm-adopt');
}

/** The definition text with `"confirmAdopt": id` (the person confirmed adopting it). */
function withConfirmAdopt(definitionText, id) {
  const definition = JSON.parse(definitionText);
  definition.confirmAdopt = id;
  return JSON.stringify(definition, null, 2) + '\n';
}

async function main() {
  const configPromise = loadConfig().catch((error) => {
    banner(`The local engine did not answer (${error.message}): the reference and live validation work, Test request does not. Is scripts/editor running?`);
    return null;
  });
  let task;
  try {
    ({ task } = await loadComponent());
  } catch (error) {
    banner(`The component could not be loaded in this browser: ${error.message}`);
    clear($('#reference-body'), h('p', { class: 'error' }, 'The component did not load.'));
    return;
  }
  const config = await configPromise;
  describeTarget(config);

  const info = task.describe();
  let view = 'json';
  let lastRendered = null;
  let formStale = true;
  let timer = null;

  const inputs = () => {
    const definition = definitionEditor.text();
    const parametersText = parametersEditor.text();
    return { definition, parameters: parametersText.trim() ? parametersText : '{}' };
  };

  /** render() in the browser: Ok carries the masked request and its warnings, Err the
   * diagnostics (errors first). */
  const render = () => {
    const { definition, parameters } = inputs();
    if (!definition.trim()) return null;
    const secrets = credentialName(definition) ? [['token', CREDENTIAL_PLACEHOLDER]] : [];
    try {
      return { ok: task.render({ definition, parameters, secrets }) };
    } catch (error) {
      if (error && Array.isArray(error.payload)) return { err: error.payload };
      throw error;
    }
  };

  const isParameterPath = (path) => path === 'parameters' || path.startsWith('parameters.') || path.startsWith('parameters[');

  const reveal = (path) => {
    if (view === 'form') form.reveal(path);
    else (isParameterPath(path) ? parametersEditor : definitionEditor).reveal(path);
  };

  const showProblems = (diagnostics) => {
    const box = $('#problems');
    const errors = diagnostics.filter((d) => d.severity === 'error').length;
    const warnings = diagnostics.length - errors;
    $('#problems-count').textContent = diagnostics.length ? [errors && `${errors} ${errors === 1 ? 'error' : 'errors'}`, warnings && `${warnings} ${warnings === 1 ? 'warning' : 'warnings'}`].filter(Boolean).join(', ') : 'none';
    box.dataset.count = String(diagnostics.length);
    clear(
      $('#problems-list'),
      diagnostics.map((d) =>
        h(
          'li',
          { class: `problem-item ${d.severity}`, dataset: { path: d.path } },
          h('button', { type: 'button', class: 'link', onclick: () => reveal(d.path) }, h('span', { class: 'severity' }, d.severity === 'error' ? '✕' : '⚠'), ' ', h('span', { class: 'diag-path' }, d.path)),
          ' ',
          richText(d.message),
        ),
      ),
    );
  };

  const validate = () => {
    timer = null;
    const started = performance.now();
    try {
      lastRendered = render();
    } catch (error) {
      // A trap, not a diagnostic: the component in this page is unusable from now on.
      lastRendered = null;
      banner(`The component failed in this page (${error.message}): reload the page. Test request still runs in the engine.`);
      console.error(error);
    }
    const diagnostics = lastRendered?.err ?? lastRendered?.ok?.warnings ?? [];
    definitionEditor.showDiagnostics(diagnostics.filter((d) => !isParameterPath(d.path)));
    parametersEditor.showDiagnostics(diagnostics.filter((d) => isParameterPath(d.path)));
    if (formStale) {
      form.update(parseOrError(definitionEditor.text()), parseOrError(parametersEditor.text()));
      formStale = false;
    }
    form.showDiagnostics(diagnostics);
    showProblems(diagnostics);
    showPreview($('#preview'), lastRendered);
    document.body.dataset.renderMs = (performance.now() - started).toFixed(2);
    document.body.dataset.validated = String(Number(document.body.dataset.validated ?? 0) + 1);
  };

  const schedule = () => {
    document.body.dataset.validating = 'true';
    clearTimeout(timer);
    timer = setTimeout(() => {
      validate();
      delete document.body.dataset.validating;
    }, RENDER_DELAY_MS);
  };

  const onTextChange = (origin) => {
    if (origin !== 'form') formStale = true;
    schedule();
  };

  const definitionEditor = new JsonEditor($('#definition-editor'), {
    label: 'Task definition (JSON)',
    root: '',
    emptyHint: 'The HTTP task definition, as JSON. "Use this" in the API reference loads a ready one.',
    onChange: (text, origin) => onTextChange(origin),
  });
  const parametersEditor = new JsonEditor($('#parameters-editor'), {
    label: 'Parameters (JSON)',
    root: 'parameters',
    emptyHint: 'The task input parameters, a JSON object.',
    onChange: (text, origin) => onTextChange(origin),
  });

  const form = new TaskForm($('#task-form'), info, {
    onEdit: (part, segments, value, whole) => {
      const editor = part === 'definition' ? definitionEditor : parametersEditor;
      editor.writeValue(segments, value, whole);
    },
  });

  const useThis = () => {
    let definition = info.defaultDefinition;
    if (config) definition = pointAt(definition, config.target);
    definitionEditor.setText(definition, 'load');
    parametersEditor.setText(info.exampleParameters.trimEnd() + '\n', 'load');
    validate();
  };
  renderReference($('#reference-body'), info, { onUse: useThis });

  for (const tab of document.querySelectorAll('[role="tab"]')) {
    tab.addEventListener('click', () => {
      view = tab.dataset.view;
      for (const other of document.querySelectorAll('[role="tab"]')) {
        const selected = other === tab;
        other.setAttribute('aria-selected', String(selected));
        other.tabIndex = selected ? 0 : -1;
        $(`#${other.getAttribute('aria-controls')}`).hidden = !selected;
      }
    });
  }

  // --- Test request ---
  const button = $('#test-request');
  const resultBox = $('#result');
  const runStatus = $('#run-status');

  const send = async (body) => {
    let answer;
    try {
      answer = await fetch('/api/test-request', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    } catch (error) {
      return { unreachable: error };
    }
    let parsed = null;
    try {
      parsed = await answer.json();
    } catch {
      // shown as an engine error without explanation
    }
    return { status: answer.status, document: parsed };
  };

  const testRequest = async () => {
    if (timer !== null) {
      clearTimeout(timer);
      validate();
    }
    const body = { ...inputs(), confirmBilled: false };
    const url = lastRendered?.ok?.request?.url;
    if (url && !isLoopback(url)) {
      if (!(await confirmBilled(new URL(url).host))) {
        runStatus.textContent = 'Not sent.';
        return;
      }
      body.confirmBilled = true;
    }
    button.disabled = true;
    runStatus.textContent = '';
    showPending(resultBox, url ? new URL(url).host : '');
    try {
      let answer = await send(body);
      if (answer.status === 409 && answer.document?.error === 'confirmation-required') {
        // The engine saw a host this page did not (e.g. the texts changed meanwhile).
        if (await confirmBilled(answer.document.host)) answer = await send({ ...body, confirmBilled: true });
        else {
          showEngineError(resultBox, 409, answer.document);
          return;
        }
      }
      let note;
      const result = answer.document?.result;
      if (answer.status === 200 && result?.outcome === 'needs-confirmation') {
        // ifExists: adopt found the same spec under this name on a real host: nothing was
        // minted. Only the person's explicit Adopt sends it again with confirmAdopt.
        const id = adoptionId(result);
        showResult(resultBox, result, { credential: answer.document.credential, onReveal: reveal });
        if (id === null) note = 'The instance to adopt could not be told from the result: nothing was adopted.';
        else if (await confirmAdopt(id)) {
          showPending(resultBox, url ? new URL(url).host : '');
          answer = await send({ ...body, definition: withConfirmAdopt(body.definition, id), confirmBilled: body.confirmBilled });
        } else note = `Not adopted: ${id} was left as it is and no token was minted.`;
      }
      if (answer.unreachable) showEngineUnreachable(resultBox, answer.unreachable);
      else if (answer.status !== 200 || !answer.document?.result) showEngineError(resultBox, answer.status, answer.document);
      else showResult(resultBox, answer.document.result, { credential: answer.document.credential, onReveal: reveal, note });
    } finally {
      button.disabled = false;
      resultBox.scrollIntoView({ block: 'nearest' });
    }
  };
  button.addEventListener('click', testRequest);
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey) && !button.disabled) {
      event.preventDefault();
      button.click();
    }
  });
  button.disabled = false;

  form.update(undefined, undefined);
  validate();
  document.body.dataset.ready = 'true';
}

main().catch((error) => {
  banner(`The editor failed: ${error.message}`);
  console.error(error);
});
