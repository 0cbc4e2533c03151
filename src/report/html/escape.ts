// Escaping for everything from user data that goes into the report: step names, reasons,
// error and test messages, paths. One function per context, nothing else writes raw text.

const HTML: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text or attribute value (quoted) in HTML. */
export function html(s: string | number): string {
  return String(s).replace(/[&<>"']/g, (c) => HTML[c]!);
}

/** JSON inside <script type="application/json">: nothing may close the element or open a
 * comment, and the JS line separators are escaped for good measure. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Third-party script text inlined in <script>: it must not contain a closing tag. */
export function inlineScript(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

/** A relative link: each path segment percent-encoded, so a name cannot break out of href. */
export function href(rel: string): string {
  return rel.split('/').map(encodeURIComponent).join('/');
}

/** Text in a Markdown table cell: no line breaks, no pipes, no inline HTML, no emphasis or
 * links from user text. */
export function md(s: string | number): string {
  return String(s)
    .replace(/\r?\n|\r/g, ' ')
    .replace(/[\\`*_[\]{}()#!|~]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}
