// Address lists (server.trustedProxies, userAuth.trustedSources): matching, including the remembered answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCidrList } from '../../src/config/cidr.js';

test('addresses and CIDRs match, IPv4-mapped IPv6 peers as their IPv4 address, the same answer on every repeat', () => {
  const m = parseCidrList(['10.0.0.0/8', '192.168.1.7', 'fd00::/8']);
  const cases: Array<[string | undefined, boolean]> = [
    ['10.1.2.3', true],
    ['::ffff:10.1.2.3', true],
    ['11.1.2.3', false],
    ['192.168.1.7', true],
    ['192.168.1.8', false],
    ['fd12::1', true],
    ['fe80::1', false],
    ['not-an-address', false],
    ['', false],
    [undefined, false],
  ];
  for (let round = 0; round < 3; round++) for (const [address, want] of cases) assert.equal(m.contains(address), want, `${address} (round ${round})`);
});

test('more distinct peers than are remembered: answers stay right after the memory is cleared', () => {
  const m = parseCidrList(['10.0.0.0/16']);
  for (let i = 0; i < 10_000; i++) {
    const inside = `10.0.${(i >> 8) & 255}.${i & 255}`;
    const outside = `10.1.${(i >> 8) & 255}.${i & 255}`;
    assert.equal(m.contains(inside), true, inside);
    assert.equal(m.contains(outside), false, outside);
  }
  assert.equal(m.contains('10.0.0.1'), true);
});

test('an empty list contains nothing', () => {
  assert.equal(parseCidrList([]).contains('127.0.0.1'), false);
});
