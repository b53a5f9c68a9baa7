// Flow 1c, the gateway-initiated dance (the seed article's "Trust" button): AppA sends the
// browser here, the gateway issues a request token for the link and continues at the approval
// page. Opt-in per link: a consumer that accepts tokens it did not ask for invites login CSRF, so
// every other entry parameter (state, redirectUrl, ...) is carried to the callback for it to check.
import type { Context, Next } from 'koa';
import type { Gateway } from '../gateway.js';
import { PATHS, publicPath } from '../http/paths.js';
import type { UserAuth } from '../userauth/index.js';
import { appendQuery, checkCallback } from '../oauth1/callback.js';
import { queryFields, repeated } from './forms.js';
import { PageError } from './html.js';
import { pageErrors, signedInUser } from './page-steps.js';
import { dance, need, type Step } from './state.js';

const LINK_PARAM = 'applicationLinkID';

export function loginDanceSteps(gw: Gateway, users: UserAuth): Step[] {
  return [
    pageErrors(gw),
    readEntry,
    gatewayInitiatedLink,
    signedInUser(users),
    issueAndContinue(gw),
  ];
}

// The entry URL's query: applicationLinkID plus whatever AppA wants back.
async function readEntry(ctx: Context, next: Next): Promise<void> {
  dance(ctx).fields = queryFields(ctx);
  await next();
}

// The link exists and opted in to gateway-initiated dances.
async function gatewayInitiatedLink(ctx: Context, next: Next): Promise<void> {
  const s = dance(ctx);
  const id = need(s.fields, 'fields').get(LINK_PARAM, repeated(LINK_PARAM));
  if (id === undefined || id === '') {
    throw new PageError({ status: 400, title: 'Missing application link', message: 'This address lacks the applicationLinkID parameter. Start again from the linked application.' });
  }
  const link = s.cfg.linksById.get(id);
  if (!link) {
    throw new PageError({ status: 404, title: 'Unknown application link', message: 'No application is linked to this site under that ID. Ask an administrator to check the application link.' });
  }
  if (ctx.state.facts) {
    ctx.state.facts.link = link.id;
    ctx.state.facts.consumerKey = link.consumerKey;
  }
  if (!link.gatewayInitiated || !link.threeLegged) {
    throw new PageError({
      status: 403,
      title: 'Not available for this application',
      message: `${link.name} cannot start the authorization here. Connect from within ${link.name} instead.`,
      problem: 'permission_denied',
    });
  }
  s.link = link;
  await next();
}

// A token with an empty secret for the link, its callback = the first registered URL plus the entry's parameters.
function issueAndContinue(gw: Gateway): Step {
  return async function issueAndContinue(ctx) {
    const s = dance(ctx);
    const link = need(s.link, 'link');
    const user = need(s.user, 'user');
    const first = link.callbackUrls[0];
    const carried = need(s.fields, 'fields').pairs.filter(([name]) => name !== LINK_PARAM);
    const checked = first === undefined ? null : checkCallback(link.callbackUrls, appendQuery(first, [[LINK_PARAM, link.id], ...carried]));
    if (!checked?.ok) {
      throw new PageError({
        status: 400,
        title: 'Cannot continue',
        message: `The return address for ${link.name} cannot be built from this request${checked && !checked.ok ? `: ${checked.reason}` : ''}.`,
      });
    }
    const rt = await gw.store.createRequestToken({
      linkId: link.id,
      consumerKey: link.consumerKey,
      callback: checked.callback,
      version: '1.0a',
      ttlSeconds: s.cfg.config.oauth.requestTokenTtlSeconds,
      emptySecret: true,
    });
    if (ctx.state.facts) ctx.state.facts.tokenHandle = rt.handle;
    gw.metrics.danceEvents.inc({ event: 'issued', link: link.id });
    gw.audit('token_issued', { link: link.id, consumerKey: link.consumerKey, user, handle: rt.handle, version: rt.version, gatewayInitiated: true });
    const query = `oauth_callback=${encodeURIComponent(checked.callback)}&oauth_token=${encodeURIComponent(rt.token)}`;
    ctx.redirect(`${publicPath(s.cfg, PATHS.authorize)}?${query}`);
  };
}
