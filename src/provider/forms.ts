// Query strings and form posts of the browser pages, decoded strictly; bad input is a 400 page.
import type { Context } from 'koa';
import type { RuntimeConfig } from '../config/load.js';
import { bodyDeadlinesOf, isFormContentType, readBody } from '../http/body.js';
import { isOAuthProblem, parseForm, scanForm } from '../oauth1/index.js';
import { PageError } from './html.js';
import { Fields } from './state.js';

function decode(raw: string, where: string): Fields {
  try {
    return new Fields(parseForm(raw));
  } catch (err) {
    if (!isOAuthProblem(err)) throw err;
    throw new PageError({ status: 400, title: 'Bad request', message: `The ${where} is not correctly encoded.` });
  }
}

export function queryFields(ctx: Context): Fields {
  return decode(ctx.querystring, 'address of this page');
}

/** The fields of a form POST (application/x-www-form-urlencoded only, at most formBodyLimitBytes and formParameterLimit fields). */
export async function formFields(ctx: Context, cfg: RuntimeConfig): Promise<Fields> {
  if (!isFormContentType(ctx.get('content-type'))) {
    throw new PageError({ status: 415, title: 'Unsupported form', message: 'This page only accepts forms sent by a browser (application/x-www-form-urlencoded).' });
  }
  const body = (await readBody(ctx.req, cfg.config.server.formBodyLimitBytes, bodyDeadlinesOf(cfg))).toString('utf8');
  // Counted before parsing: these pages take a handful of fields, a flood of them is refused unparsed.
  if (scanForm(body).count > cfg.config.server.formParameterLimit) {
    throw new PageError({ status: 400, title: 'Bad request', message: 'The form has too many fields.' });
  }
  return decode(body, 'form');
}

/** A field given more than once: refused rather than guessing which one was meant. */
export function repeated(name: string): () => Error {
  return () => new PageError({ status: 400, title: 'Bad request', message: `The field ${name} was sent more than once.` });
}
