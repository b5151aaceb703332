// RFC 8693 token exchange for tests/interop.rs and the CLI tests. oidc-provider 9 has no built-in
// token exchange, so this registers one through its custom-grant hook. The subject token must be
// a client-credentials access token this provider issued; the answer is
//   - requested_token_type id_token: an opaque stand-in with issued_token_type id_token and
//     token_type N_A (RFC 8693 §2.2.1: not an access token);
//   - otherwise: a new client-credentials access token with the requested scope (or the
//     subject's), issued_token_type access_token, token_type Bearer.
// GET /__exchange/last shows the parameters the last exchange request carried (audience and
// resource as lists), so a test checks what went on the wire as the provider parsed it.
import * as crypto from 'node:crypto';

const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
const ID = 'urn:ietf:params:oauth:token-type:id_token';
const PARAMS = [
  'subject_token', 'subject_token_type', 'actor_token', 'actor_token_type',
  'requested_token_type', 'audience', 'resource', 'scope',
];

export function setup(provider) {
  let last = null;
  provider.use(async (ctx, next) => {
    if (ctx.path === '/__exchange/last' && ctx.method === 'GET') {
      ctx.body = { last };
      return;
    }
    await next();
  });

  provider.registerGrantType(GRANT, async (ctx) => {
    const { errors } = await import('oidc-provider');
    const p = ctx.oidc.params;
    const list = (v) => (v === undefined ? [] : [].concat(v));
    last = {
      subject_token_type: p.subject_token_type ?? null,
      actor_token_type: p.actor_token_type ?? null,
      has_actor_token: Boolean(p.actor_token),
      requested_token_type: p.requested_token_type ?? null,
      audience: list(p.audience),
      resource: list(p.resource),
      scope: p.scope ?? null,
    };
    if (!p.subject_token || p.subject_token_type !== ACCESS) {
      throw new errors.InvalidRequest('subject_token_type must be an access token');
    }
    const subject = await provider.ClientCredentials.find(p.subject_token);
    if (!subject || subject.isExpired) {
      throw new errors.InvalidGrant('subject_token is not an active token of this provider');
    }
    if (p.requested_token_type === ID) {
      ctx.body = {
        access_token: crypto.randomBytes(24).toString('base64url'),
        issued_token_type: ID,
        token_type: 'N_A',
        expires_in: 60,
      };
      return;
    }
    const token = new provider.ClientCredentials({
      client: ctx.oidc.client,
      scope: p.scope ?? subject.scope,
    });
    const value = await token.save();
    ctx.body = {
      access_token: value,
      issued_token_type: ACCESS,
      token_type: 'Bearer',
      expires_in: token.expiration,
      scope: token.scope,
    };
  }, PARAMS, ['audience', 'resource']);
}
