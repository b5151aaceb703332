// OpenID CIBA poll mode for tests/interop.rs and the CLI tests. The "authentication device" is
// the test: every request that reaches triggerAuthenticationDevice is listed at
// GET /__ciba/requests ({id, account, binding_message, scope}), and the test decides it with
// POST /__ciba/decide?id=ID&approve=true|false. oidc-provider sends no `interval`; the
// backchannel answer gets 1 s, for short tests.
const requests = [];

export function configure(configuration) {
  configuration.features.ciba = {
    enabled: true,
    deliveryModes: ['poll'],
    // The login_hint is the account id.
    async processLoginHint(ctx, loginHint) {
      return loginHint;
    },
    async verifyUserCode() {},
    async validateRequestContext() {},
    async triggerAuthenticationDevice(ctx, request, account) {
      requests.push({
        id: request.jti,
        account: account.accountId,
        binding_message: request.params.binding_message ?? null,
        scope: request.scope,
      });
    },
  };
}

export function setup(provider) {
  provider.use(async (ctx, next) => {
    if (ctx.path === '/__ciba/requests' && ctx.method === 'GET') {
      ctx.body = { requests };
      return;
    }
    if (ctx.path === '/__ciba/decide' && ctx.method === 'POST') {
      const request = await provider.BackchannelAuthenticationRequest.find(ctx.query.id);
      if (!request) {
        ctx.status = 404;
        ctx.body = { error: 'no such request' };
        return;
      }
      if (ctx.query.approve === 'true') {
        const grant = new provider.Grant({ clientId: request.clientId, accountId: request.accountId });
        grant.addOIDCScope(request.scope);
        await grant.save();
        await provider.backchannelResult(request, grant);
      } else {
        const { errors } = await import('oidc-provider');
        await provider.backchannelResult(request, new errors.AccessDenied('the user said no'));
      }
      ctx.body = { decided: true };
      return;
    }
    await next();
    if (ctx.path === '/backchannel' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
      ctx.body = { ...ctx.body, interval: 1 };
    }
  });
}
