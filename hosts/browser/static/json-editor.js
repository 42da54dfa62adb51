// A JSON text editor (CodeMirror 6) that shows diagnostics at their field paths: underlined,
// marked in the gutter, and written out under the line they are about.

import { Annotation, EditorState, StateEffect, StateField } from '@codemirror/state';
import {
  Decoration,
  EditorView,
  WidgetType,
  drawSelection,
  highlightActiveLine,
  highlightActiveLineGutter,
  keymap,
  lineNumbers,
  placeholder,
} from '@codemirror/view';
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { json } from '@codemirror/lang-json';
import {
  bracketMatching,
  defaultHighlightStyle,
  ensureSyntaxTree,
  foldGutter,
  foldKeymap,
  indentOnInput,
  syntaxHighlighting,
} from '@codemirror/language';
import { lintGutter, lintKeymap, setDiagnostics } from '@codemirror/lint';
import { highlightSelectionMatches, searchKeymap } from '@codemirror/search';
import { locate, markRange, parsePath, positionOfLineColumn } from './paths.js';

/** Marks a change made by code: its value says by what ('form', 'load'); typed text has none. */
export const programmatic = Annotation.define();

class MessageWidget extends WidgetType {
  constructor(severity, path, message) {
    super();
    this.severity = severity;
    this.path = path;
    this.message = message;
  }
  eq(other) {
    return other.severity === this.severity && other.path === this.path && other.message === this.message;
  }
  toDOM() {
    const box = document.createElement('div');
    box.className = `inline-diagnostic ${this.severity}`;
    box.dataset.path = this.path;
    const path = document.createElement('span');
    path.className = 'diag-path';
    path.textContent = this.path;
    box.append(this.severity === 'error' ? '✕ ' : '⚠ ', path, ': ', this.message);
    return box;
  }
  ignoreEvent() {
    return false;
  }
}

const setInline = StateEffect.define();
const inlineField = StateField.define({
  create: () => Decoration.none,
  update(decorations, transaction) {
    decorations = decorations.map(transaction.changes);
    for (const effect of transaction.effects) if (effect.is(setInline)) decorations = effect.value;
    return decorations;
  },
  provide: (field) => EditorView.decorations.from(field),
});

export class JsonEditor {
  /**
   * @param parent  element to mount in
   * @param options.label  accessible name of the text area
   * @param options.root   path prefix of this document in diagnostics: '' (definition) or 'parameters'
   * @param options.onChange  called with (text, origin) after every change: 'user' for typing,
   *                           else the `programmatic` annotation's value ('form', 'load')
   */
  constructor(parent, { label, root, emptyHint, onChange }) {
    this.root = root;
    this.view = new EditorView({
      parent,
      state: EditorState.create({
        doc: '',
        extensions: [
          lineNumbers(),
          foldGutter(),
          lintGutter(),
          highlightActiveLineGutter(),
          history(),
          drawSelection(),
          indentOnInput(),
          bracketMatching(),
          highlightActiveLine(),
          highlightSelectionMatches(),
          syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
          json(),
          EditorView.lineWrapping,
          inlineField,
          placeholder(emptyHint ?? ''),
          keymap.of([...defaultKeymap, ...historyKeymap, ...foldKeymap, ...searchKeymap, ...lintKeymap]),
          EditorView.contentAttributes.of({ 'aria-label': label }),
          EditorView.updateListener.of((update) => {
            if (!update.docChanged) return;
            const marked = update.transactions.map((tr) => tr.annotation(programmatic)).find(Boolean);
            onChange(this.text(), marked ?? 'user');
          }),
        ],
      }),
    });
  }

  text() {
    return this.view.state.doc.toString();
  }

  /** Replaces the whole text (undoable). */
  setText(text, origin = 'load') {
    this.view.dispatch({
      changes: { from: 0, to: this.view.state.doc.length, insert: text },
      annotations: programmatic.of(origin),
    });
  }

  /**
   * Writes `value` at `segments` keeping the rest of the text as the author wrote it: only the
   * value's own range is replaced when it exists; otherwise `whole` (the whole new document)
   * is written out, formatted.
   */
  writeValue(segments, value, whole) {
    const state = this.view.state;
    const tree = ensureSyntaxTree(state, state.doc.length, 500);
    const place = tree ? locate(tree, state.doc, segments) : null;
    if (place && place.exact && value !== undefined && segments.length > 0) {
      this.view.dispatch({
        changes: { from: place.from, to: place.to, insert: JSON.stringify(value) },
        annotations: programmatic.of('form'),
      });
    } else {
      this.setText(JSON.stringify(whole, null, 2) + '\n', 'form');
    }
  }

  /** Where a diagnostic path of this document is in the text: {from, to}. */
  rangeOf(path) {
    const state = this.view.state;
    const doc = state.doc;
    if (doc.length === 0) return { from: 0, to: 0 };
    let segments = parsePath(path);
    if (this.root) segments = segments.slice(1); // `parameters.x` → x
    return this._range(state, segments);
  }

  _range(state, segments) {
    const tree = ensureSyntaxTree(state, state.doc.length, 500);
    if (!tree) return { from: 0, to: Math.min(1, state.doc.length) };
    return markRange(state.doc, locate(tree, state.doc, segments));
  }

  /** Shows `diagnostics` (the component's, all of this document) in the text. */
  showDiagnostics(diagnostics) {
    const { state } = this.view;
    const doc = state.doc;
    const marks = diagnostics.map((diagnostic) => {
      let range;
      const whole = diagnostic.path === (this.root || 'definition');
      const position = whole ? positionOfLineColumn(doc, diagnostic.message) : null;
      if (position !== null) {
        range = { from: position, to: Math.min(position + 1, doc.line(doc.lineAt(position).number).to) };
        if (range.to === range.from && doc.length) range = { from: Math.max(0, position - 1), to: position };
      } else {
        range = whole ? { from: 0, to: Math.min(1, doc.length) } : this.rangeOf(diagnostic.path);
      }
      return { ...range, diagnostic };
    });
    const lintDiagnostics = marks.map(({ from, to, diagnostic }) => ({
      from,
      to,
      severity: diagnostic.severity,
      source: diagnostic.path,
      message: diagnostic.message,
    }));
    const widgets = marks
      .map(({ to, diagnostic }) => {
        const line = doc.lineAt(to);
        return Decoration.widget({
          widget: new MessageWidget(diagnostic.severity, diagnostic.path, diagnostic.message),
          block: true,
          side: 1,
        }).range(line.to);
      })
      .sort((a, b) => a.from - b.from);
    this.view.dispatch(setDiagnostics(state, lintDiagnostics), {
      effects: setInline.of(Decoration.set(widgets, true)),
    });
  }

  /** Selects the place of `path` and scrolls it into view. */
  reveal(path) {
    const { from, to } = path === (this.root || 'definition') ? { from: 0, to: 0 } : this.rangeOf(path);
    this.view.dispatch({ selection: { anchor: from, head: to }, scrollIntoView: true });
    this.view.focus();
  }
}
