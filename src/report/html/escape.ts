// Escaping for everything from user data that goes into the report: step names, reasons,
// error and test messages, paths. One function per context, nothing else writes raw text.

const HTML: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text or attribute value (quoted) in HTML. */
const HTML_CHARS = /[&<>"']/;
export function html(s: string | number): string {
  const t = String(s);
  // Most text has nothing to escape: testing first saves the replace (thousands per report).
  return HTML_CHARS.test(t) ? t.replace(/[&<>"']/g, (c) => HTML[c]!) : t;
}

const SCRIPT_UNSAFE: Record<string, string> = { '<': '\\u003c', '>': '\\u003e', '&': '\\u0026', '\u2028': '\\u2028', '\u2029': '\\u2029' };
/** JSON inside <script type="application/json">: nothing may close the element or open a
 * comment, and the JS line separators are escaped for good measure. */
export function jsonForScript(value: unknown): string {
  // One pass over the (large) JSON text rather than one per character.
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => SCRIPT_UNSAFE[c]!);
}

/** Third-party script text inlined in <script>: it must not contain a closing tag. */
export function inlineScript(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

const URI_SAFE = /^[A-Za-z0-9_.!~*'()/-]*$/;
/** A relative link: each path segment percent-encoded, so a name cannot break out of href. */
export function href(rel: string): string {
  // Characters encodeURIComponent leaves alone (and "/"): nothing to encode.
  return URI_SAFE.test(rel) ? rel : rel.split('/').map(encodeURIComponent).join('/');
}

const MD_CHARS = /[\r\n\\`*_[\]{}()#!|~&<>]/;
/** Text in a Markdown table cell: no line breaks, no pipes, no inline HTML, no emphasis or
 * links from user text. */
export function md(s: string | number): string {
  const t = String(s);
  if (!MD_CHARS.test(t)) return t;
  return t
    .replace(/\r?\n|\r/g, ' ')
    .replace(/[\\`*_[\]{}()#!|~]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}
