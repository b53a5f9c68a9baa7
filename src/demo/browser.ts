// A scripted browser for the demo: cookies per origin, redirects followed one at a time (so
// each hop can be shown), and the hidden fields of a page's POST form.

export interface Hop {
  method: string;
  url: string;
  status: number;
  location: string | null;
}

export interface Page {
  url: string;
  status: number;
  headers: Headers;
  body: string;
  /** Every request made to get here, redirects included. */
  hops: Hop[];
}

export interface PostForm {
  action: string;
  fields: Array<[string, string]>;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const decodeEntities = (s: string) =>
  s.replace(/&(?:#(\d+)|#x([0-9a-f]+)|([a-z]+));/gi, (m, dec?: string, hex?: string, name?: string) =>
    dec ? String.fromCodePoint(Number(dec)) : hex ? String.fromCodePoint(parseInt(hex, 16)) : (ENTITIES[name?.toLowerCase() ?? ''] ?? m),
  );

function attr(tag: string, name: string): string | null {
  const m = new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(tag);
  return m ? decodeEntities(m[1] ?? m[2] ?? m[3] ?? '') : null;
}

/** The first POST form of an HTML page: its action and its hidden inputs, in order. */
export function postForm(html: string, baseUrl: string): PostForm | null {
  const form = /<form\b[^>]*>([\s\S]*?)<\/form>/gi;
  for (let m = form.exec(html); m; m = form.exec(html)) {
    const open = /<form\b[^>]*>/i.exec(m[0])?.[0] ?? '';
    if ((attr(open, 'method') ?? 'get').toLowerCase() !== 'post') continue;
    const fields: Array<[string, string]> = [];
    for (const input of m[1]?.match(/<input\b[^>]*>/gi) ?? []) {
      const name = attr(input, 'name');
      if (name !== null && (attr(input, 'type') ?? 'text').toLowerCase() === 'hidden') fields.push([name, attr(input, 'value') ?? '']);
    }
    return { action: new URL(attr(open, 'action') ?? '', baseUrl).href, fields };
  }
  return null;
}

export class Browser {
  private readonly jar = new Map<string, Map<string, string>>();

  cookies(origin: string): Map<string, string> {
    let c = this.jar.get(origin);
    if (!c) this.jar.set(origin, (c = new Map()));
    return c;
  }

  private remember(origin: string, res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/;\s*max-age=0/i.test(line) || value === '') this.cookies(origin).delete(name);
      else this.cookies(origin).set(name, value);
    }
  }

  /** One request, no redirect followed. */
  async request(method: string, url: string, body?: URLSearchParams): Promise<Response> {
    const origin = new URL(url).origin;
    const jar = this.cookies(origin);
    const headers: Record<string, string> = { Accept: 'text/html,application/json' };
    if (jar.size > 0) headers.Cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (body) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(url, { method, headers, body: body?.toString(), redirect: 'manual' });
    this.remember(origin, res);
    return res;
  }

  /** A request and the redirects after it (GET, as browsers do after a 302/303), up to `maxHops`. */
  async navigate(method: string, url: string, body?: URLSearchParams, maxHops = 10): Promise<Page> {
    const hops: Hop[] = [];
    let current = url;
    let res = await this.request(method, current, body);
    for (;;) {
      const location = res.headers.get('location');
      hops.push({ method, url: current, status: res.status, location });
      if (res.status < 300 || res.status >= 400 || location === null) break;
      if (hops.length > maxHops) throw new Error(`more than ${maxHops} redirects from ${url}`);
      await res.arrayBuffer();
      current = new URL(location, current).href;
      method = 'GET';
      res = await this.request('GET', current);
    }
    return { url: current, status: res.status, headers: res.headers, body: await res.text(), hops };
  }
}
