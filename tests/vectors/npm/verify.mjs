// The npm SDKs' own verifiers, run on what `hookgate sign` produced (passed as JSON on argv).
// Prints one line per failure and exits 1 if any.
import { verify as octokitVerify } from '@octokit/webhooks-methods';
import hubspot from '@hubspot/api-client';
import { LinearWebhookClient } from '@linear/sdk/webhooks';
import '@shopify/shopify-api/adapters/node';
import { shopifyApi, ApiVersion } from '@shopify/shopify-api';
import { zoomReceive } from './zoom.mjs';
import Mux from '@mux/mux-node';
import { isValidSignature as sanityValid } from '@sanity/webhook';

const cases = JSON.parse(process.argv[2]);
const failures = [];
for (const c of cases) {
  const h = c.headers;
  let ok = false;
  try {
    if (c.provider === 'github') {
      ok = await octokitVerify(c.secret, c.body, h['x-hub-signature-256']);
    } else if (c.provider === 'hubspot') {
      ok = hubspot.Signature.isValid({
        signatureVersion: 'v3',
        clientSecret: c.secret,
        requestBody: c.body,
        url: c.url,
        method: 'POST',
        signature: h['x-hubspot-signature-v3'],
        timestamp: Number(h['x-hubspot-request-timestamp']),
      });
    } else if (c.provider === 'hubspot-v1' || c.provider === 'hubspot-v2') {
      ok = hubspot.Signature.isValid({
        signatureVersion: c.provider.slice(-2),
        clientSecret: c.secret,
        requestBody: c.body,
        url: c.url,
        method: 'POST',
        signature: h['x-hubspot-signature'],
      });
    } else if (c.provider === 'shopify') {
      const api = shopifyApi({
        apiKey: 'check',
        apiSecretKey: c.secret,
        scopes: [],
        hostName: 'localhost',
        apiVersion: ApiVersion.October25,
        isEmbeddedApp: false,
        logger: { level: 0 },
      });
      const headers = {
        ...h,
        'x-shopify-topic': 'orders/create',
        'x-shopify-api-version': ApiVersion.October25,
        'x-shopify-shop-domain': 'check.myshopify.com',
        'x-shopify-webhook-id': 'w1',
        'x-shopify-event-id': 'e1',
        'x-shopify-triggered-at': new Date().toISOString(),
      };
      const rawRequest = { headers, method: 'POST', url: '/shopify' };
      ok = (await api.webhooks.validate({ rawBody: c.body, rawRequest, rawResponse: {} })).valid;
    } else if (c.provider === 'mux') {
      const client = new Mux({ tokenId: 'unused', tokenSecret: 'unused', webhookSecret: c.secret });
      await client.webhooks.verifySignature(c.body, h, c.secret);
      ok = true;
    } else if (c.provider === 'sanity') {
      ok = await sanityValid(c.body, h['sanity-webhook-signature'], c.secret);
    } else if (c.provider === 'zoom') {
      ok = (await zoomReceive(c.secret, h, c.body)).statusCode === 200;
    } else if (c.provider === 'linear') {
      ok = new LinearWebhookClient(c.secret).verify(Buffer.from(c.body), h['linear-signature']);
    }
  } catch (e) {
    ok = false;
  }
  if (ok !== c.expect) failures.push(`${c.provider} (${c.what}): SDK said ${ok}, expected ${c.expect}`);
}
for (const f of failures) console.log('FAIL', f);
process.exit(failures.length ? 1 : 0);
