// A real OpenID Connect provider for the single sign-on tests: the npm
// package oidc-provider, with its development sign-in page (any login and
// password; the login becomes the subject) and consent granted at once.
//
//   node provider.mjs http://127.0.0.1:PORT
//
// takes the address Aftercare is served at, listens on a free port and prints
// one line of JSON, {"issuer": "http://127.0.0.1:PORT"}, when it is ready.
// Five clients are registered, each sending the browser back to
// {aftercare}/login/sso/{id}/callback:
//   aftercare-test     an honest provider;
//   aftercare-tamper   the ID token's subject changed after signing (the
//                      signature no longer matches);
//   aftercare-expired  the ID token re-signed with the provider's own key, but
//                      expired an hour ago;
//   aftercare-nonce    the ID token re-signed with the provider's own key, but
//                      carrying another nonce.
//   aftercare-email    an honest provider, which Aftercare lets match a
//                      verified email address; its client sends its secret in
//                      the token request's body (client_secret_post).
import http from 'node:http';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const aftercare = process.argv[2];
if (!aftercare) {
  console.error('usage: node provider.mjs AFTERCARE_BASE_URL');
  process.exit(2);
}

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await jose.exportJWK(privateKey)), kid: 'aftercare-test-key', alg: 'RS256', use: 'sig' };

const modes = ['test', 'tamper', 'expired', 'nonce', 'email'];
const clients = modes.map((id) => ({
  client_id: `aftercare-${id}`,
  client_secret: `secret-${id}`,
  redirect_uris: [`${aftercare}/login/sso/${id}/callback`],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  // The email-matching client proves itself in the request body, as some
  // providers ask; the others by HTTP Basic.
  token_endpoint_auth_method: id === 'email' ? 'client_secret_post' : 'client_secret_basic',
}));

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [jwk] },
  // The subject is the login typed on the development sign-in page; every
  // subject has a verified address at nhs.test.
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, email: `${id}@nhs.test`, email_verified: true }),
  }),
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  // The email claims in the ID token itself, not only at userinfo.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  // First-party clients: consent is granted without asking.
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email');
    grant.addOIDCClaims(['email', 'email_verified']);
    await grant.save();
    return grant;
  },
});

// After the token endpoint has answered, spoil the ID token as the client's
// mode asks.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path !== '/token' || !ctx.body || typeof ctx.body.id_token !== 'string') return;
  const mode = (ctx.oidc?.client?.clientId || '').replace('aftercare-', '');
  const token = ctx.body.id_token;
  const claims = jose.decodeJwt(token);
  const now = Math.floor(Date.now() / 1000);
  if (mode === 'tamper') {
    const [header, , signature] = token.split('.');
    const forged = { ...claims, sub: 'alice' };
    ctx.body.id_token = [header, Buffer.from(JSON.stringify(forged)).toString('base64url'), signature].join('.');
  } else if (mode === 'expired' || mode === 'nonce') {
    const changed = mode === 'expired'
      ? { ...claims, iat: now - 7200, exp: now - 3600 }
      : { ...claims, nonce: 'not-the-nonce-aftercare-sent' };
    ctx.body.id_token = await new jose.SignJWT(changed)
      .setProtectedHeader({ alg: 'RS256', kid: jwk.kid })
      .sign(privateKey);
  }
});

server.on('request', provider.callback());
console.log(JSON.stringify({ issuer }));
