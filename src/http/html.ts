// The gateway's HTML for people: escaping by construction (an `html` tagged template), and one
// page layout with the security headers of DESIGN.md section 7 (no framing, no script, no
// caching). The dance pages (src/provider) and the error pages (src/http/answer.ts) use it.
import { createHash } from 'node:crypto';

/** Markup that is already safe (built by `html` or escaped). */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

type Interpolation = SafeHtml | string | number | null | undefined | false | Interpolation[];

function render(value: Interpolation): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** Template literal whose interpolations are escaped unless they are SafeHtml themselves. */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '');
  });
  return new SafeHtml(out);
}

// One stylesheet, allowed by its hash: the CSP needs neither 'unsafe-inline' nor a second route.
const STYLE = `
:root { color-scheme: light; --fg: #172b4d; --muted: #44546f; --accent: #0c66e4; --line: #dcdfe4; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: #f7f8f9; }
main { max-width: 36rem; margin: 3rem auto; padding: 2rem; background: #fff; border: 1px solid var(--line); border-radius: 8px; }
h1 { font-size: 1.5rem; line-height: 1.25; margin: 0 0 1rem; }
h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
p, ul, form { margin: 0 0 1rem; }
.muted { color: var(--muted); }
.actions { display: flex; gap: .75rem; margin-top: 1.5rem; flex-wrap: wrap; }
button, .button { font: inherit; padding: .6rem 1.4rem; border-radius: 4px; border: 1px solid var(--muted); background: #fff; color: var(--fg); cursor: pointer; text-decoration: none; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button:focus-visible, a:focus-visible, input:focus-visible { outline: 3px solid #85b8ff; outline-offset: 2px; }
label { display: block; font-weight: 600; margin: 1rem 0 .25rem; }
input[type=text], input[type=password] { width: 100%; font: inherit; padding: .5rem; border: 1px solid var(--muted); border-radius: 4px; }
.alert { border-left: 4px solid #c9372c; background: #ffeceb; padding: .75rem 1rem; }
.notice { border-left: 4px solid #22a06b; background: #dcfff1; padding: .75rem 1rem; }
code, .verifier { font-family: ui-monospace, Menlo, Consolas, monospace; }
.verifier { display: block; font-size: 1.25rem; padding: .75rem; background: #f1f2f4; border-radius: 4px; word-break: break-all; user-select: all; }
table { width: 100%; border-collapse: collapse; margin-bottom: 1rem; }
th, td { text-align: left; padding: .5rem .25rem; border-bottom: 1px solid var(--line); vertical-align: middle; }
td form { margin: 0; }
`;
const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

/** Headers every gateway page carries: no framing, no script, no caching. */
export function pageSecurityHeaders(formTargets: readonly string[] = []): Array<[string, string]> {
  const formAction = formTargets.length === 0 ? "'self'" : ["'self'", ...formTargets].join(' ');
  return [
    ['Content-Security-Policy', `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; img-src 'self'; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`],
    ['X-Frame-Options', 'DENY'],
    ['Cache-Control', 'no-store'],
    ['Pragma', 'no-cache'],
    ['X-Content-Type-Options', 'nosniff'],
    ['Referrer-Policy', 'no-referrer'],
  ];
}

/** A whole page: the layout around `body` (already safe markup). */
export function pageDocument(title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<style>${new SafeHtml(STYLE)}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`.value;
}
