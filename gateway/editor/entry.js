// The playground's editor (gateway/static/app.js calls KennelEditor.create): CodeMirror 6 with
// line numbers, highlighting for Python, C, C++ and Java, bracket matching and closing, Tab and
// Shift-Tab indenting, undo history, a light and a dark theme. Bundled by
// scripts/build-editor.sh into gateway/static/vendor/editor.js.
import { EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection } from "@codemirror/view";
import { EditorState, Compartment } from "@codemirror/state";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { bracketMatching, indentOnInput, syntaxHighlighting, defaultHighlightStyle } from "@codemirror/language";
import { closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { python } from "@codemirror/lang-python";
import { cpp } from "@codemirror/lang-cpp";
import { java } from "@codemirror/lang-java";
import { oneDark } from "@codemirror/theme-one-dark";

const languages = { python: python, c: cpp, cpp: cpp, java: java };

function languageOf(name) {
  const make = languages[name];
  return make ? make() : [];
}

// Sizes and fonts from the host element (the page's CSS sizes it), inside the shadow root.
const frame = EditorView.theme({
  "&": { height: "100%" },
  ".cm-scroller": { fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace', fontSize: "0.9rem" },
});

// An editor in `parent`: { language, doc, dark, label, onChange(doc), onRun() }. It lives in a
// shadow root of `parent`: CodeMirror then styles itself with a constructed style sheet
// (adoptedStyleSheets), which the page's Content-Security-Policy (style-src 'self', no inline
// <style>) allows; in the document it would need an inline <style> element.
export function create(parent, opts) {
  const language = new Compartment();
  const theme = new Compartment();
  const root = parent.attachShadow({ mode: "open" });
  const view = new EditorView({
    parent: root,
    root,
    state: EditorState.create({
      doc: opts.doc || "",
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        history(),
        drawSelection(),
        indentOnInput(),
        bracketMatching(),
        closeBrackets(),
        highlightActiveLine(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        keymap.of([
          { key: "Mod-Enter", run: () => { if (opts.onRun) opts.onRun(); return true; } },
          ...closeBracketsKeymap,
          ...defaultKeymap,
          ...historyKeymap,
          indentWithTab,
        ]),
        frame,
        language.of(languageOf(opts.language)),
        theme.of(opts.dark ? oneDark : []),
        EditorView.contentAttributes.of({ "aria-label": opts.label || "Source code" }),
        EditorView.updateListener.of((u) => {
          if (u.docChanged && opts.onChange) opts.onChange(u.state.doc.toString());
        }),
      ],
    }),
  });
  return {
    view,
    get: () => view.state.doc.toString(),
    set: (text) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } }),
    setLanguage: (name) => view.dispatch({ effects: language.reconfigure(languageOf(name)) }),
    setDark: (dark) => view.dispatch({ effects: theme.reconfigure(dark ? oneDark : []) }),
    focus: () => view.focus(),
  };
}
