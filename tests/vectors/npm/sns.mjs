// Has AWS's sns-validator (aws-js-sns-message-validator) check SNS vectors made by
// ../jose.py: reads [{body, signing_cert_url, signing_cert}] as JSON on stdin and exits
// non-zero unless the validator accepts every message. Its certificate download
// (https.get) is answered with the vector's certificate for the vector's URL only, so the
// validator's own URL check still runs.
import https from 'node:https';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const vectors = JSON.parse(readFileSync(0, 'utf8'));
const certs = new Map(vectors.map((v) => [v.signing_cert_url, v.signing_cert]));
https.get = (url, callback) => {
  const request = new EventEmitter();
  const response = new EventEmitter();
  response.statusCode = certs.has(String(url)) ? 200 : 404;
  process.nextTick(() => {
    callback(response);
    if (certs.has(String(url))) response.emit('data', Buffer.from(certs.get(String(url))));
    response.emit('end');
  });
  return request;
};
const MessageValidator = require('sns-validator');
const validator = new MessageValidator();

let failed = 0;
for (const [i, v] of vectors.entries()) {
  await new Promise((resolve) => {
    validator.validate(v.body, (err) => {
      if (err) {
        failed += 1;
        console.error(`vector ${i}: ${err.message}`);
      }
      resolve();
    });
  });
}
if (failed) process.exit(1);
console.log(JSON.parse(readFileSync(new URL('./node_modules/sns-validator/package.json', import.meta.url))).version);
