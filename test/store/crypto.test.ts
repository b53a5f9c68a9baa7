// The keyring and secret encryption of the token store.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  constantTimeEqual,
  decryptSecret,
  defaultKeyId,
  encryptSecret,
  generateKeyringLine,
  parseKeyring,
  randomToken,
  tokenDigest,
} from '../../src/store/crypto.js';

describe('parseKeyring', () => {
  it('reads base64, base64url and hex keys, ids, comments and blank lines', () => {
    const k1 = randomBytes(32);
    const k2 = randomBytes(32);
    const k3 = randomBytes(32);
    const text = [
      '# store keys, newest first',
      '',
      `new:${k1.toString('base64')}`,
      `  ${k2.toString('hex')}  `,
      `${k3.toString('base64url')}`,
      '',
    ].join('\n');
    const ring = parseKeyring(text);
    assert.deepEqual(
      ring.map((k) => k.id),
      ['new', defaultKeyId(k2), defaultKeyId(k3)],
    );
    assert.ok(ring[0]?.key.equals(k1) && ring[1]?.key.equals(k2) && ring[2]?.key.equals(k3));
    assert.match(defaultKeyId(k2), /^[0-9a-f]{8}$/);
  });

  it('a bad line names its number and never echoes the key', () => {
    const good = randomBytes(32).toString('base64');
    const short = randomBytes(31).toString('base64');
    const cases: Array<[string, RegExp]> = [
      [`${good}\n# ok\n${short}`, /line 3/],
      [`\n\nid:${good.slice(0, 40)}`, /line 3/],
      [`bad id!:${good}`, /line 1: the key id/],
      [`a:${good}\na:${randomBytes(32).toString('base64')}`, /line 2: key id "a" appears twice/],
    ];
    for (const [text, expected] of cases) {
      assert.throws(
        () => parseKeyring(text),
        (err: Error) => {
          assert.match(err.message, expected);
          assert.ok(!err.message.includes(good) && !err.message.includes(short), 'key echoed');
          return true;
        },
      );
    }
    assert.throws(() => parseKeyring('# nothing\n\n'), /no key/);
  });

  it('generateKeyringLine makes a line parseKeyring accepts', () => {
    const line = generateKeyringLine();
    const [key] = parseKeyring(line);
    assert.ok(key);
    assert.equal(key.key.length, 32);
    assert.equal(line.split(':')[0], key.id);
    assert.notEqual(generateKeyringLine(), line);
  });
});

describe('encryptSecret / decryptSecret', () => {
  const [oldKey] = parseKeyring(generateKeyringLine());
  const [newKey] = parseKeyring(generateKeyringLine());
  assert.ok(oldKey && newKey);

  it('round-trips, with a fresh IV each time, under the first key', () => {
    const a = encryptSecret('s3cret', [newKey, oldKey]);
    const b = encryptSecret('s3cret', [newKey, oldKey]);
    assert.notEqual(a, b);
    assert.match(a, new RegExp(`^v1\\.${newKey.id}\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$`));
    assert.ok(!a.includes('s3cret'));
    assert.equal(decryptSecret(a, [newKey, oldKey]), 's3cret');
    assert.equal(decryptSecret(encryptSecret('', [newKey]), [newKey]), '');
    assert.equal(decryptSecret(encryptSecret('ünïcode ✓', [newKey]), [newKey]), 'ünïcode ✓');
  });

  it('rotation: [new, old] decrypts what [old] encrypted; [new] alone refuses', () => {
    const blob = encryptSecret('old secret', [oldKey]);
    assert.equal(decryptSecret(blob, [newKey, oldKey]), 'old secret');
    assert.throws(() => decryptSecret(blob, [newKey]), new RegExp(`"${oldKey.id}".*not in the keyring`));
  });

  it('a remembered decryption answers only the same ciphertext, context and keyring', () => {
    const keyring = [newKey, oldKey];
    const blob = encryptSecret('remembered', [oldKey], 'at.s:h1');
    for (let i = 0; i < 3; i++) assert.equal(decryptSecret(blob, keyring, 'at.s:h1'), 'remembered');
    // Same ciphertext, other field or grant: still bound to its context.
    assert.throws(() => decryptSecret(blob, keyring, 'at.s:h2'), /failed authentication/);
    assert.throws(() => decryptSecret(blob, keyring), /failed authentication/);
    // The old key rotated out (a new keyring, as a reload makes): refused at once.
    assert.throws(() => decryptSecret(blob, [newKey], 'at.s:h1'), new RegExp(`"${oldKey.id}".*not in the keyring`));
    // More secrets than are remembered: every answer stays right.
    const many = Array.from({ length: 10_050 }, (_, i) => [encryptSecret(`s${i}`, [newKey], `at.s:${i}`), `s${i}`, `at.s:${i}`] as const);
    for (const [b, plain, ctx] of many) assert.equal(decryptSecret(b, keyring, ctx), plain);
    for (const [b, plain, ctx] of many.slice(0, 20)) assert.equal(decryptSecret(b, keyring, ctx), plain);
  });

  it('tampering, a wrong context and malformed blobs are refused', () => {
    const blob = encryptSecret('payload', [newKey], 'at.s:handle1');
    assert.equal(decryptSecret(blob, [newKey], 'at.s:handle1'), 'payload');
    assert.throws(() => decryptSecret(blob, [newKey], 'at.s:handle2'), /failed authentication/);
    assert.throws(() => decryptSecret(blob, [newKey]), /failed authentication/);
    const parts = blob.split('.');
    const body = Buffer.from(parts[3] ?? '', 'base64url');
    body[0] = (body[0] ?? 0) ^ 1;
    const flipped = [...parts.slice(0, 3), body.toString('base64url')].join('.');
    assert.throws(() => decryptSecret(flipped, [newKey], 'at.s:handle1'), /failed authentication/);
    // Another key under the same id is not the key.
    const impostor = { id: newKey.id, key: randomBytes(32) };
    assert.throws(() => decryptSecret(blob, [impostor], 'at.s:handle1'), /failed authentication/);
    for (const bad of ['', 'v1', 'v2.a.b.c', 'v1.x.y', `v1.${newKey.id}.!!.??`, `v1.${newKey.id}.AAAA.AAAA`]) {
      assert.throws(() => decryptSecret(bad, [newKey]), /malformed|not in the keyring/);
    }
  });

  it('an empty keyring cannot encrypt', () => {
    assert.throws(() => encryptSecret('x', []), /empty/);
  });
});

describe('digests and random values', () => {
  it('tokenDigest is hex SHA-256', () => {
    assert.equal(
      tokenDigest('abc'),
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('randomToken is base64url of the given size', () => {
    assert.match(randomToken(), /^[A-Za-z0-9_-]{32}$/);
    assert.match(randomToken(12), /^[A-Za-z0-9_-]{16}$/);
    assert.notEqual(randomToken(), randomToken());
  });

  it('constantTimeEqual', () => {
    assert.equal(constantTimeEqual('abc', 'abc'), true);
    assert.equal(constantTimeEqual('abc', 'abd'), false);
    assert.equal(constantTimeEqual('abc', 'abcd'), false);
    assert.equal(constantTimeEqual('', ''), true);
  });
});
