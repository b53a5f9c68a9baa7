// What the steps of one dance request hand to each other (ctx.state.dance).
import type { Context, Next } from 'koa';
import type { RuntimeConfig } from '../config/load.js';
import type { ResolvedLink } from '../config/links.js';
import type { CollectedParams } from '../oauth1/index.js';
import type { AccessToken, RequestToken } from '../store/types.js';
import type { OAuthRequestView } from '../http/request-view.js';
import type { SignedRequest } from '../verify/steps.js';

export interface DanceState {
  /** The configuration, read once for the whole request (a reload may swap it meanwhile). */
  cfg: RuntimeConfig;
  /** Hands the request on to the proxy untouched (unknown consumers, AppB's own tokens): use handOn(). */
  passOn: Next;
  /** Set once the request was handed on: what happens downstream is the proxy's to answer. */
  handedOn?: boolean;
  view?: OAuthRequestView;
  params?: CollectedParams;
  signed?: SignedRequest;
  link?: ResolvedLink;
  requestToken?: RequestToken;
  /**
   * A renewal (access-token with oauth_session_handle): the token value, and the live access token
   * (null when it has expired: the store only returns live ones, and RSA-SHA1 needs no token secret).
   */
  renewal?: { token: string; access: AccessToken | null };
  /** The signed-in browser user. */
  user?: string;
  /** Decoded query or form fields of a browser request. */
  fields?: Fields;
}

declare module 'koa' {
  interface DefaultState {
    dance?: DanceState;
  }
}

export type Step = (ctx: Context, next: Next) => Promise<void>;

/** Hands the request to the proxy untouched, marked as pass-through (facts.flow) for it and the logs. */
export async function handOn(ctx: Context): Promise<void> {
  const s = dance(ctx);
  s.handedOn = true;
  if (ctx.state.facts) ctx.state.facts.flow = 'passthrough';
  await s.passOn();
}

export function dance(ctx: Context): DanceState {
  const s = ctx.state.dance;
  if (!s) throw new Error('dance state missing: the route did not start with its setup step');
  return s;
}

/** A value an earlier step must have set; its absence is a bug in the route table. */
export function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} missing: route table out of order`);
  return value;
}

/** Decoded name/value pairs with single-valued access. */
export class Fields {
  constructor(readonly pairs: Array<[string, string]>) {}

  has(name: string): boolean {
    return this.pairs.some(([n]) => n === name);
  }

  /** The value of `name`; undefined when absent; `onRepeat` when it appears more than once. */
  get(name: string, onRepeat: () => Error): string | undefined {
    const values = this.pairs.filter(([n]) => n === name);
    if (values.length > 1) throw onRepeat();
    return values[0]?.[1];
  }
}

/** Runs steps in order, each handing on with next(); the last one's next() is the route's own next. */
export function chain(steps: Step[]): Step {
  return function run(ctx, next) {
    const at = (i: number): Promise<void> => {
      const step = steps[i];
      return step ? step(ctx, () => at(i + 1)) : next();
    };
    return at(0);
  };
}
