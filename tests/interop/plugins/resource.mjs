// Resource indicators (RFC 8707) for the bearer-token tests (crates/axum/tests/bearer.rs):
// `https://api.jwt.test` gets RFC 9068 JWT access tokens, `https://api.opaque.test` opaque ones
// (checked by introspection, which provider.mjs switches on). Both grant `api:read api:write`.
//
// `GET /test/counters` answers how many introspection requests and JWKS fetches the provider has
// served, so a test can prove single-flight and one JWKS re-fetch from the provider's side.
export const JWT_RESOURCE = 'https://api.jwt.test';
export const OPAQUE_RESOURCE = 'https://api.opaque.test';

export function configure(configuration) {
  configuration.features.resourceIndicators = {
    enabled: true,
    // A client_credentials request names its resource; nothing is implied.
    defaultResource: async () => undefined,
    useGrantedResource: async () => true,
    async getResourceServerInfo(ctx, resourceIndicator) {
      const scope = 'api:read api:write';
      if (resourceIndicator === JWT_RESOURCE) {
        return { scope, audience: JWT_RESOURCE, accessTokenTTL: 600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
      }
      if (resourceIndicator === OPAQUE_RESOURCE) {
        return { scope, audience: OPAQUE_RESOURCE, accessTokenTTL: 600, accessTokenFormat: 'opaque' };
      }
      const { errors } = await import('oidc-provider');
      throw new errors.InvalidTarget();
    },
  };
}

export function setup(provider) {
  const counters = { introspection: 0, jwks: 0 };
  provider.use(async (ctx, next) => {
    const path = ctx.path;
    if (ctx.method === 'GET' && path === '/test/counters') {
      ctx.body = counters;
      return;
    }
    if (ctx.method === 'POST' && path.endsWith('/token/introspection')) counters.introspection += 1;
    if (ctx.method === 'GET' && (path.endsWith('/jwks') || path.endsWith('/jwks.json'))) counters.jwks += 1;
    await next();
  });
}
