// Rich authorization requests (RFC 9396) with resource indicators (RFC 8707), for
// tests/interop_rar.rs. oidc-provider takes `authorization_details` only with
// `resourceIndicators` on, and only from a client registered with the types it uses; the
// policy hooks below are this test provider's authorization server policy:
//
// - the one detail type `payment_initiation` must carry `instructedAmount` with a currency
//   and an amount (anything else is `invalid_authorization_details`);
// - the grant keeps what the user consented to, enriched with the account the user "chose"
//   (`debtorAccount`, RFC 9396 §7.1);
// - each access token gets the grant's details stamped with the grant type that issued it
//   (`issuedBy`), so a test can tell the refresh answer's details from the login's;
// - `useGrantedResource` is false: a token request that names no `resource` gets a token for
//   userinfo, not for the resource the login asked for — the client must repeat it.
//
// The client `rp-rar` (client_secret_post, authorization_code + refresh_token) may use the
// type; `GET /__rar/token-requests` lists the `resource` and `authorization_details` of every
// token request as the provider received them.
import { errors } from 'oidc-provider';

export const PAYMENTS = 'https://payments.example/';
const CALLBACK = 'http://127.0.0.1:3000/callback';
const seen = [];

function detailsFrom(ctx) {
  const raw = ctx.oidc.params.authorization_details;
  return raw === undefined ? undefined : JSON.parse(raw);
}

export function configure(configuration, { clients }) {
  configuration.features.resourceIndicators = {
    enabled: true,
    defaultResource: async () => undefined,
    useGrantedResource: async () => false,
    async getResourceServerInfo(ctx, resourceIndicator) {
      if (resourceIndicator === PAYMENTS) {
        return { scope: 'payments', audience: PAYMENTS, accessTokenTTL: 600, accessTokenFormat: 'opaque' };
      }
      throw new errors.InvalidTarget();
    },
  };
  configuration.features.richAuthorizationRequests = {
    enabled: true,
    types: {
      payment_initiation: {
        validate(ctx, detail) {
          const amount = detail.instructedAmount;
          if (typeof amount?.currency !== 'string' || typeof amount?.amount !== 'string') {
            throw new errors.InvalidAuthorizationDetails('payment_initiation needs instructedAmount');
          }
        },
      },
    },
    authorizationDetailsForGrantSource(ctx) {
      return (ctx.oidc.grant.rar ?? []).map((d) => ({ ...d, debtorAccount: { iban: 'DE02100100109307118603' } }));
    },
    authorizationDetailsForAccessToken(ctx, token, source, grantType) {
      // A token request that names details gets those the grant covers (by type), else the grant's.
      const asked = detailsFrom(ctx);
      const granted = source?.rar ?? [];
      const chosen = asked === undefined ? granted : granted.filter((g) => asked.some((a) => a.type === g.type));
      return chosen.map((d) => ({ ...d, issuedBy: grantType }));
    },
    authorizationDetailsForIntrospection(ctx, token) {
      return token.rar;
    },
  };
  clients.push({
    client_id: 'rp-rar',
    client_secret: 'rp-rar-secret-0123456789abcdef0123456789abcdef',
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [CALLBACK],
    id_token_signed_response_alg: 'RS256',
    authorization_details_types: ['payment_initiation'],
  });
}

export function setup(provider) {
  provider.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path.endsWith('/__rar/token-requests')) {
      ctx.body = seen;
      return;
    }
    await next();
  });
  provider.on('grant.success', (ctx) => {
    const p = ctx.oidc.params;
    seen.push({ grant_type: p.grant_type, resource: p.resource ?? null, authorization_details: p.authorization_details ?? null });
  });
}
