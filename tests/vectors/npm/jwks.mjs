// Has `jose` (npm), the library Fireblocks' webhook documentation verifies with, check the
// detached-JWS vectors made by ../jose.py the way that documentation does: the body is put
// back between the token's two dots (base64url) and the result checked with compactVerify
// against the vector's key set. Reads [{token, body, jwks, alg}] as JSON on stdin; exits
// non-zero unless every vector verifies and yields its body.
import { readFileSync } from 'node:fs';
import { compactVerify, createLocalJWKSet } from 'jose';

const vectors = JSON.parse(readFileSync(0, 'utf8'));
let failed = 0;
for (const [i, v] of vectors.entries()) {
  const [header, , signature] = v.token.split('.');
  const payload = Buffer.from(v.body).toString('base64url');
  try {
    const { payload: got } = await compactVerify(`${header}.${payload}.${signature}`,
      createLocalJWKSet(JSON.parse(v.jwks)), { algorithms: [v.alg] });
    if (Buffer.from(got).toString() !== v.body) throw new Error('payload differs from the body');
  } catch (err) {
    failed += 1;
    console.error(`vector ${i}: ${err.message}`);
  }
}
if (failed) process.exit(1);
console.log(JSON.parse(readFileSync(new URL('./node_modules/jose/package.json', import.meta.url))).version);
