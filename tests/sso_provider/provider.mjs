// A real OpenID provider (the `oidc-provider` package) for tests/test_sso.py.
//
//   node provider.mjs [PORT]        (or PORT=... ; 0 picks a free port, printed on stdout)
//
// Environment:
//   PORT            port on 127.0.0.1 (argv[2] wins); the issuer is http://127.0.0.1:PORT
//   CLIENT_ID, CLIENT_SECRET, REDIRECT_URIS (space-separated)
//                   optional static client; tests register their own clients instead through
//                   dynamic client registration (POST /reg), one per organisation and test
//   JWKS_MODE       `published` (default): /jwks publishes the signing key.
//                   `foreign`: /jwks publishes a different key, so every ID token is signed by a
//                   key the relying party cannot find (the "unknown signing key" test).
//
// Sign-in uses the package's development interactions: plain HTML forms over HTTP (login with
// any password, then consent). Known accounts are below; any other login is refused.
import { createServer } from 'node:http';

import { generateKeyPair, exportJWK } from 'jose';
import Provider from 'oidc-provider';

const ACCOUNTS = {
  alice: { email: 'alice@a.test', email_verified: true, name: 'Alice' },
  bob: { email: 'bob@a.test', email_verified: true, name: 'Bob' },
  newbie: { email: 'newbie@a.test', email_verified: true, name: 'Newbie' },
  // claims Alice's address without the provider having verified it
  mallory: { email: 'alice@a.test', email_verified: false, name: 'Mallory' },
};

async function signingKey(kid) {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
}

function publicPart({ d, p, q, dp, dq, qi, ...rest }) {
  return rest;
}

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
const jwksMode = process.env.JWKS_MODE ?? 'published';
const key = await signingKey('test-signing-key');
const foreign = jwksMode === 'foreign' ? publicPart(await signingKey('some-other-key')) : null;

const clients = [];
if (process.env.CLIENT_ID) {
  clients.push({
    client_id: process.env.CLIENT_ID,
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: (process.env.REDIRECT_URIS ?? '').split(' ').filter(Boolean),
    grant_types: ['authorization_code'],
    response_types: ['code'],
  });
}

// The issuer names the port, so bind first (port 0 picks a free one), then build the provider.
const server = createServer();
await new Promise((resolve, reject) => {
  server.on('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [key] },
  cookies: { keys: [crypto.randomUUID()] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true },
  },
  pkce: { required: () => true },
  async findAccount(ctx, id) {
    const account = ACCOUNTS[id];
    if (!account) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...account }) };
  },
});

if (foreign) {
  provider.use(async (ctx, next) => {
    if (ctx.path === '/jwks') {
      ctx.type = 'application/jwk-set+json';
      ctx.body = { keys: [foreign] };
      return;
    }
    await next();
  });
}

server.on('request', provider.callback());
process.stdout.write(`oidc-provider listening on ${issuer} (jwks: ${jwksMode})\n`);

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
