// Address lists (trustedProxies, trustedSources): single addresses or CIDRs, IPv4 and IPv6.
import { BlockList, isIP } from 'node:net';

export interface CidrMatcher {
  /** true when the (possibly IPv4-mapped IPv6) address is in the list. */
  contains(address: string | undefined): boolean;
  readonly size: number;
}

/** An IPv4 peer of a dual-stack socket (::ffff:a.b.c.d) as its IPv4 address; anything else as it is. */
export function unmap(address: string): string {
  // Node reports IPv4 peers on dual-stack sockets as ::ffff:a.b.c.d.
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m?.[1] ?? address;
}

const KNOWN_ADDRESSES = 4096;

export function parseCidrList(entries: string[]): CidrMatcher {
  const list = new BlockList();
  entries.forEach((entry, i) => {
    const [addr = '', prefixText, ...rest] = entry.split('/');
    if (rest.length > 0) throw new Error(`[${i}] ${JSON.stringify(entry)} is not an IP address or CIDR`);
    const family = isIP(addr);
    if (family === 0) throw new Error(`[${i}] ${JSON.stringify(entry)} is not an IP address or CIDR`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefixText === undefined) {
      list.addAddress(addr, type);
      return;
    }
    const prefix = Number(prefixText);
    const max = family === 4 ? 32 : 128;
    if (!/^\d+$/.test(prefixText) || prefix > max) throw new Error(`[${i}] ${JSON.stringify(entry)} has a bad prefix length`);
    list.addSubnet(addr, prefix, type);
  });
  // Peers repeat (AppA, the load balancer, the SSO proxy): answers are remembered per address string,
  // since BlockList.check builds a SocketAddress each call. Bounded: cleared when it fills.
  const known = new Map<string, boolean>();
  return {
    size: entries.length,
    contains(address) {
      if (!address || entries.length === 0) return false;
      const hit = known.get(address);
      if (hit !== undefined) return hit;
      const a = unmap(address);
      const family = isIP(a);
      const answer = family !== 0 && list.check(a, family === 4 ? 'ipv4' : 'ipv6');
      if (known.size >= KNOWN_ADDRESSES) known.clear();
      known.set(address, answer);
      return answer;
    },
  };
}
