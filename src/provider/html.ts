// The dance pages' HTML: the layout and escaping of src/http/html.ts written through Koa, and the
// page error type.
import type { Context } from 'koa';
import { GatewayError, gatewayFields } from '../errors/index.js';
import { html, pageDocument, pageSecurityHeaders, SafeHtml } from '../http/html.js';
import type { OAuthProblemName } from '../oauth1/index.js';

export { html } from '../http/html.js';

export interface PageOptions {
  status?: number;
  title: string;
  body: SafeHtml;
  /** Origins a form on this page may lead to (its POST redirects there), besides 'self'. */
  formTargets?: string[];
}

/** Headers every gateway page carries: no framing, no script, no caching. */
export function setPageSecurityHeaders(ctx: Context, formTargets: string[] = []): void {
  for (const [name, value] of pageSecurityHeaders(formTargets)) ctx.set(name, value);
}

export function renderPage(ctx: Context, page: PageOptions): void {
  setPageSecurityHeaders(ctx, page.formTargets);
  ctx.status = page.status ?? 200;
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = pageDocument(page.title, page.body);
}

/**
 * A refusal on a browser page (code `page_refused`, or the OAuth problem it corresponds to):
 * rendered as a readable page with `status`. `problem` is logged and counted, and sent in
 * WWW-Authenticate with a 401.
 */
export class PageError extends GatewayError {
  readonly title: string;
  readonly body: SafeHtml;
  readonly problem: OAuthProblemName | undefined;
  constructor(opts: { status: number; title: string; message: string | SafeHtml; problem?: OAuthProblemName }) {
    super(opts.title);
    gatewayFields(this, opts.status, opts.problem ?? 'page_refused');
    this.name = 'PageError';
    this.title = opts.title;
    this.body = opts.message instanceof SafeHtml ? opts.message : html`<p>${opts.message}</p>`;
    this.problem = opts.problem;
  }
}
