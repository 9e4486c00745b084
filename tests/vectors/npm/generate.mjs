// Vectors from npm SDKs, printed as JSON for ../generate.py to merge. Deterministic: fixed
// secrets, keys, bodies and timestamps; where an SDK only verifies, its verifier must accept
// each vector (with its clock pinned to the vector's time) or generation fails.
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';

import { sign as octokitSign, verify as octokitVerify } from '@octokit/webhooks-methods';
import { verifyKey } from 'discord-interactions';
import hubspot from '@hubspot/api-client';
import { LinearWebhookClient } from '@linear/sdk/webhooks';
import '@shopify/shopify-api/adapters/node';
import { shopifyApi, ApiVersion } from '@shopify/shopify-api';
import { zoomReceive } from './zoom.mjs';
import Mux from '@mux/mux-node';
import { encodeSignatureHeader, isValidSignature } from '@sanity/webhook';

const { bodies: BODIES, timestamps: TIMESTAMPS } = JSON.parse(process.argv[2]);
const version = (name) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url))).version;

function withClock(ms, fn) {
  const real = Date.now;
  Date.now = () => ms;
  try {
    return fn();
  } finally {
    Date.now = real;
  }
}

async function github() {
  const secret = "It's a Secret to Everybody";
  const vectors = [];
  // octokit refuses to sign an empty payload.
  for (const body of BODIES.filter((b) => b !== '')) {
    const signature = await octokitSign(secret, body);
    if (!(await octokitVerify(secret, body, signature))) throw new Error('octokit refused its own');
    vectors.push({ headers: { 'X-Hub-Signature-256': signature }, body, timestamp: TIMESTAMPS[0], secret });
  }
  return vectors;
}

// HubSpot's v1 and v2 signatures: plain SHA-256 digests, made by the SDK's getSignature.
function hubspotDigestVectors(version) {
  const secret = `hubspot-${version}-client-secret-0000`;
  const publicUrl = 'https://hooks.example.com';
  const target = '/hook?portal=42';
  return BODIES.map((body) => {
    const options = { clientSecret: secret, requestBody: body, url: publicUrl + target };
    const signature = hubspot.Signature.getSignature('POST', version, options);
    if (!hubspot.Signature.isValid({ ...options, signature, signatureVersion: version })) {
      throw new Error(`hubspot refused its own ${version} signature`);
    }
    return {
      target,
      // v1 signs no URL, so its route takes no public_url.
      ...(version === 'v2' ? { public_url: publicUrl } : {}),
      headers: { 'X-HubSpot-Signature': signature, 'X-HubSpot-Signature-Version': version },
      body,
      timestamp: TIMESTAMPS[0],
      secret,
    };
  });
}

function hubspotVectors() {
  const secret = 'hubspot-client-secret-0000';
  const publicUrl = 'https://hooks.example.com';
  const vectors = [];
  for (const body of BODIES) {
    for (const ts of TIMESTAMPS) {
      const ms = ts * 1000 + 123;
      const target = '/hook?portal=42';
      const options = { clientSecret: secret, requestBody: body, url: publicUrl + target, timestamp: ms };
      const signature = hubspot.Signature.getSignature('POST', 'v3', options);
      const ok = withClock(ms, () =>
        hubspot.Signature.isValid({ ...options, signature, signatureVersion: 'v3' }),
      );
      if (!ok) throw new Error('hubspot refused its own signature');
      vectors.push({
        target,
        public_url: publicUrl,
        headers: { 'X-HubSpot-Signature-v3': signature, 'X-HubSpot-Request-Timestamp': String(ms) },
        body,
        timestamp: ts,
        secret,
      });
    }
  }
  return vectors;
}

function linear() {
  const secret = 'lin_wh_secret_0000';
  const client = new LinearWebhookClient(secret);
  const vectors = [];
  for (const ts of TIMESTAMPS) {
    for (const [i, action] of ['create', 'update'].entries()) {
      const ms = ts * 1000 + 250 * i;
      const body = JSON.stringify({ action, type: 'Issue', data: { id: `iss_${i}`, title: 'caf\u00e9' }, webhookTimestamp: ms });
      const signature = crypto.createHmac('sha256', secret).update(body).digest('hex');
      withClock(ms, () => client.verify(Buffer.from(body), signature));
      vectors.push({ headers: { 'Linear-Signature': signature }, body, timestamp: ts, secret });
    }
  }
  return vectors;
}

async function discord() {
  // A fixed Ed25519 key (RFC 8032 test 1's seed), so signatures are deterministic.
  const seed = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const privateKey = crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const publicKey = crypto
    .createPublicKey(privateKey)
    .export({ format: 'der', type: 'spki' })
    .subarray(-32)
    .toString('hex');
  const vectors = [];
  for (const body of [...BODIES.filter((b) => b !== ''), '{"type":1}']) {
    for (const ts of TIMESTAMPS) {
      const message = Buffer.from(String(ts) + body);
      const signature = crypto.sign(null, message, privateKey).toString('hex');
      if (!(await verifyKey(body, signature, String(ts), publicKey))) throw new Error('discord-interactions refused');
      const v = {
        headers: { 'X-Signature-Ed25519': signature, 'X-Signature-Timestamp': String(ts) },
        body,
        timestamp: ts,
        public_key: publicKey,
      };
      // A PING is answered by the gateway itself, not forwarded.
      if (body === '{"type":1}') v.handshake = '{"type":1}';
      vectors.push(v);
    }
  }
  return vectors;
}

async function shopify() {
  const secret = 'hush-shopify-app-secret';
  const apiVersion = ApiVersion.October25;
  const api = shopifyApi({
    apiKey: 'vectors',
    apiSecretKey: secret,
    scopes: [],
    hostName: 'localhost',
    apiVersion,
    isEmbeddedApp: false,
    logger: { level: 0 },
  });
  const vectors = [];
  // The SDK refuses an empty body.
  for (const [i, body] of BODIES.filter((b) => b !== '').entries()) {
    const headers = {
      'X-Shopify-Hmac-Sha256': crypto.createHmac('sha256', secret).update(body).digest('base64'),
      'X-Shopify-Topic': 'orders/create',
      'X-Shopify-Api-Version': apiVersion,
      'X-Shopify-Shop-Domain': 'vectors.myshopify.com',
      'X-Shopify-Webhook-Id': `b54557e4-bdd9-4b37-8a5f-bf7d70bcd04${i}`,
      'X-Shopify-Event-Id': `98880550-7158-44d4-b7cd-2c97c8a091b${i}`,
      'X-Shopify-Triggered-At': '2023-11-14T22:13:20.000Z',
    };
    const rawRequest = { headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])), method: 'POST', url: '/hook' };
    const result = await api.webhooks.validate({ rawBody: body, rawRequest, rawResponse: {} });
    if (!result.valid) throw new Error(`@shopify/shopify-api refused: ${JSON.stringify(result)}`);
    vectors.push({ headers, body, timestamp: TIMESTAMPS[0], secret });
  }
  return vectors;
}

async function zoom() {
  const secret = 'zoom-webhook-secret-token';
  const vectors = [];
  const validation = JSON.stringify({
    event: 'endpoint.url_validation',
    payload: { plainToken: 'qgg8vlvZRS6UYooatFL8Aw' },
    event_ts: TIMESTAMPS[0] * 1000,
  });
  // The SDK only takes Zoom-shaped JSON events: an `event` name is required.
  const events = [
    { event: 'meeting.started', payload: { account_id: 'acc_1', object: { id: '85012345678', topic: 'caf\u00e9 \u2713' } } },
    { event: 'recording.completed', payload: { account_id: 'acc_1', object: { uuid: 'a/b==', duration: 0 } } },
  ].map((e) => JSON.stringify({ ...e, event_ts: TIMESTAMPS[0] * 1000 }));
  for (const body of [...events, validation]) {
    for (const ts of TIMESTAMPS) {
      const signature = 'v0=' + crypto.createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex');
      const headers = { 'x-zm-signature': signature, 'x-zm-request-timestamp': String(ts) };
      const answer = await zoomReceive(secret, headers, body);
      if (answer.statusCode !== 200) throw new Error(`@zoom/rivet refused: ${answer.body}`);
      const v = { headers, body, timestamp: ts, secret };
      if (body === validation) v.handshake = answer.body;
      vectors.push(v);
    }
  }
  return vectors;
}

async function mux() {
  const secret = 'mux-webhook-signing-secret-0000';
  const client = new Mux({ tokenId: 'unused', tokenSecret: 'unused', webhookSecret: secret });
  const vectors = [];
  for (const body of BODIES) {
    for (const ts of TIMESTAMPS) {
      const header = `t=${ts},v1=` + crypto.createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex');
      const headers = { 'mux-signature': header };
      const real = Date.now;
      Date.now = () => ts * 1000;
      try {
        await client.webhooks.verifySignature(body, headers, secret);
      } finally {
        Date.now = real;
      }
      vectors.push({ headers, body, timestamp: ts, secret });
    }
  }
  return vectors;
}

async function sanity() {
  const secret = 'sanity-webhook-secret-0000';
  const vectors = [];
  // The SDK refuses to sign an empty payload.
  for (const body of BODIES.filter((b) => b !== '')) {
    for (const ts of TIMESTAMPS) {
      const ms = ts * 1000 + 321;
      const header = await encodeSignatureHeader(body, ms, secret);
      if (!(await isValidSignature(body, header, secret))) throw new Error('@sanity/webhook refused its own');
      vectors.push({ headers: { 'sanity-webhook-signature': header }, body, timestamp: ts, secret });
    }
  }
  return vectors;
}

const out = [
  { provider: 'github', source: `@octokit/webhooks-methods (npm) ${version('@octokit/webhooks-methods')}: sign`, vectors: await github() },
  { provider: 'hubspot', source: `@hubspot/api-client (npm) ${version('@hubspot/api-client')}: Signature.getSignature v3, checked by Signature.isValid`, vectors: hubspotVectors() },
  { provider: 'hubspot-v1', source: `@hubspot/api-client (npm) ${version('@hubspot/api-client')}: Signature.getSignature v1, checked by Signature.isValid`, vectors: hubspotDigestVectors('v1') },
  { provider: 'hubspot-v2', source: `@hubspot/api-client (npm) ${version('@hubspot/api-client')}: Signature.getSignature v2, checked by Signature.isValid`, vectors: hubspotDigestVectors('v2') },
  { provider: 'linear', source: `formula (Node crypto), accepted by @linear/sdk (npm) ${version('@linear/sdk')}: LinearWebhookClient.verify`, vectors: linear() },
  { provider: 'shopify', source: `docs formula (Node crypto), accepted by @shopify/shopify-api (npm) ${version('@shopify/shopify-api')}: webhooks.validate`, vectors: await shopify() },
  { provider: 'zoom', source: `docs formula (Node crypto), accepted by @zoom/rivet (npm) ${version('@zoom/rivet')}: AwsLambdaReceiver, whose url_validation answer is the handshake vector's`, vectors: await zoom() },
  { provider: 'mux', source: `docs formula (Node crypto), accepted by @mux/mux-node (npm) ${version('@mux/mux-node')}: webhooks.verifySignature`, vectors: await mux() },
  { provider: 'sanity', source: `@sanity/webhook (npm) ${version('@sanity/webhook')}: encodeSignatureHeader, checked by isValidSignature`, vectors: await sanity() },
  { provider: 'discord', source: `Ed25519 (Node crypto), accepted by discord-interactions (npm) ${version('discord-interactions')}: verifyKey`, vectors: await discord() },
];
process.stdout.write(JSON.stringify(out));
