// A peer for bench/run.py: panva's oidc-provider configured like idp's bench fixtures.
//
//   PORT=8100 BENCH_CLIENT_ID=... BENCH_CLIENT_SECRET=... BENCH_LOGIN=+7999... \
//   BENCH_PASSWORD=... node server.mjs
//
// One confidential client (client_secret_basic; authorization_code, refresh_token,
// client_credentials; redirect URI http://127.0.0.1:9/cb, never followed), one person, the
// in-memory adapter (single process only), no consent step (a grant is created on first use,
// as idp's --no-consent), ES256 for ID tokens and for client_credentials access tokens (JWT,
// RFC 9068, as idp issues), and the same lifetimes as idp's defaults. The login page is ours,
// shaped as idp's contract page (a POST form with a hidden csrf_token, inputs login and
// password) so that the same bench/run.py drives both. The password is verified with argon2id
// at idp's parameters (m=19456 KiB, t=2, p=1) so a login costs the same hashing work.
//
// Listens on 127.0.0.1 only.
import { createHmac, generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';

import argon2 from 'argon2';
import Provider from 'oidc-provider';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) {
    console.error(`server.mjs: ${name} is required`);
    process.exit(2);
  }
  return value;
};

const PORT = Number(env('PORT', '8100'));
const ISSUER = `http://127.0.0.1:${PORT}`;
const CLIENT_ID = env('BENCH_CLIENT_ID');
const CLIENT_SECRET = env('BENCH_CLIENT_SECRET');
const LOGIN = env('BENCH_LOGIN');
const PASSWORD = env('BENCH_PASSWORD');
const REDIRECT_URI = 'http://127.0.0.1:9/cb';
const API = 'urn:idp-bench:api';
const ACCOUNT_ID = 'bench-person-1';

const PASSWORD_HASH = await argon2.hash(PASSWORD, {
  type: argon2.argon2id,
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
});

const signingKey = {
  ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
  alg: 'ES256',
  use: 'sig',
  kid: 'bench-es256',
};

const configuration = {
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      response_types: ['code'],
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  claims: { openid: ['sub'], profile: ['family_name', 'given_name'] },
  routes: { authorization: '/authorize' },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // client_credentials gets a JWT access token for a resource server (RFC 9068), as
      // idp's; code-flow access tokens stay opaque (for userinfo), stored in memory.
      defaultResource: (ctx, _client, oneOf) =>
        oneOf ?? (ctx.oidc.params?.grant_type === 'client_credentials' ? API : undefined),
      getResourceServerInfo: (_ctx, resource) => {
        if (resource !== API) throw new Provider.errors.InvalidTarget();
        return {
          scope: 'api',
          audience: API,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
      useGrantedResource: () => false,
    },
  },
  pkce: { required: () => true },
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    ClientCredentials: 600,
    IdToken: 600,
    Interaction: 1800,
    Session: 86400,
    Grant: 86400,
    RefreshToken: 30 * 86400,
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  // No consent page: the grant is created on first use (idp: --no-consent).
  async loadExistingGrant(ctx) {
    const grantId =
      ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile');
    await grant.save();
    return grant;
  },
  async findAccount(_ctx, sub) {
    if (sub !== ACCOUNT_ID) return undefined;
    return {
      accountId: sub,
      claims: async () => ({ sub, given_name: 'Ivan', family_name: 'Petrov' }),
    };
  },
  renderError(ctx, out) {
    ctx.type = 'text/plain';
    ctx.body = `${out.error}: ${out.error_description ?? ''}`;
  },
};

const provider = new Provider(ISSUER, configuration);

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid, csrf, error) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Log in</title></head><body>
<main><h1>Log in</h1>${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<input type="hidden" name="csrf_token" value="${escape(csrf)}">
<label>Phone, e-mail or SNILS <input name="login" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Log in</button>
</form></main></body></html>`;
}

async function readForm(req, limit = 64 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new Error('body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// CSRF: the interaction cookie binds the browser; the token (an HMAC of the interaction id)
// ties the form to the interaction, like idp's.
const CSRF_KEY = randomBytes(32);
const csrfFor = (uid) => createHmac('sha256', CSRF_KEY).update(`interaction:${uid}`).digest('hex');

const sameString = (a, b) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/.exec(ctx.path);
  if (!match) return next();
  const [, uid, login] = match;
  ctx.set('cache-control', 'no-store');
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.uid !== uid) ctx.throw(400, 'interaction mismatch');
  if (ctx.method === 'GET' && !login) {
    if (details.prompt.name !== 'login') ctx.throw(400, `unexpected prompt ${details.prompt.name}`);
    ctx.type = 'html';
    ctx.body = loginPage(uid, csrfFor(uid));
    return undefined;
  }
  if (ctx.method === 'POST' && login) {
    const form = await readForm(ctx.req);
    if (!sameString(form.get('csrf_token') ?? '', csrfFor(uid))) ctx.throw(403, 'csrf');
    const ok =
      sameString(form.get('login') ?? '', LOGIN) &&
      (await argon2.verify(PASSWORD_HASH, form.get('password') ?? ''));
    if (!ok) {
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = loginPage(uid, csrfFor(uid), 'The login or the password is wrong.');
      return undefined;
    }
    const to = await provider.interactionResult(
      ctx.req,
      ctx.res,
      { login: { accountId: ACCOUNT_ID, amr: ['pwd'] } },
      { mergeWithLastSubmission: false },
    );
    ctx.status = 303;
    ctx.redirect(to);
    return undefined;
  }
  ctx.throw(405);
  return undefined;
});

provider.listen(PORT, '127.0.0.1', () => {
  console.log(`oidc-provider peer listening on ${ISSUER} (pid ${process.pid})`);
});
