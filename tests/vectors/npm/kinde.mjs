// Has Kinde's own webhook package (@kinde/webhooks, decodeWebhook) check the body-token
// vectors made by ../jose.py: its key set download is answered with the vector's set, and
// every URL it asks for is recorded. Reads [{token, jwks, domain, claims}] as JSON on stdin;
// exits non-zero unless each token decodes to its claims, and neither the token with one
// claim byte changed nor the token under another key decodes. Prints the package's version.
import { readFileSync } from 'node:fs';
import { decodeWebhook } from '@kinde/webhooks';

const vectors = JSON.parse(readFileSync(0, 'utf8'));
const asked = [];
let served = '';
globalThis.fetch = async (url) => {
  asked.push(String(url));
  return new Response(served, { status: 200, headers: { 'content-type': 'application/json' } });
};
let failed = 0;
for (const [i, v] of vectors.entries()) {
  served = v.jwks;
  const got = await decodeWebhook(v.token, v.domain);
  if (JSON.stringify(got) !== JSON.stringify(v.claims)) {
    failed += 1;
    console.error(`vector ${i}: decoded ${JSON.stringify(got)}`);
  }
  const [header, payload, signature] = v.token.split('.');
  const changed = `${header}.${payload.slice(0, -2)}${payload.endsWith('A') ? 'B' : 'A'}${payload.slice(-1)}.${signature}`;
  if ((await decodeWebhook(changed, v.domain)) !== null) {
    failed += 1;
    console.error(`vector ${i}: a changed token decoded`);
  }
  // The same set with another modulus: the token must not decode under that key.
  const other = JSON.parse(v.jwks);
  other.keys[0].n = `${other.keys[0].n.slice(0, -4)}${other.keys[0].n.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
  served = JSON.stringify(other);
  if ((await decodeWebhook(v.token, v.domain)) !== null) {
    failed += 1;
    console.error(`vector ${i}: decoded under another key`);
  }
}
if (!asked.length || asked.some((url) => !url.endsWith('/.well-known/jwks.json'))) {
  failed += 1;
  console.error(`key set requests: ${asked.join(', ')}`);
}
if (failed) process.exit(1);
console.log(JSON.parse(readFileSync(new URL('./node_modules/@kinde/webhooks/package.json', import.meta.url))).version);
