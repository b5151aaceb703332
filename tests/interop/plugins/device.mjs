// RFC 8628 device flow for tests/interop.rs and the CLI tests. oidc-provider sends no `interval`
// and never answers `slow_down`, so this plugin adds both, under the test's control:
//   - the device authorization answer carries `interval` (1 s by default, for short tests);
//   - POST /__device/slow-down?count=N turns the next N `authorization_pending` answers of the
//     token endpoint into `slow_down`;
//   - GET /__device/polls lists every device_code token request the provider received, with the
//     time it arrived (ms) and the error it was answered with, so a test measures the client's
//     poll interval on the provider's side.
const GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export function configure(configuration) {
  configuration.features.deviceFlow = { enabled: true };
}

export function setup(provider) {
  const polls = [];
  let slowDowns = 0;
  provider.use(async (ctx, next) => {
    if (ctx.path === '/__device/polls' && ctx.method === 'GET') {
      ctx.body = { polls };
      return;
    }
    if (ctx.path === '/__device/slow-down' && ctx.method === 'POST') {
      slowDowns += Number(ctx.query.count ?? '1');
      ctx.body = { slow_downs: slowDowns };
      return;
    }
    const arrived = Date.now();
    await next();
    if (ctx.path === '/device/auth' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
      ctx.body = { ...ctx.body, interval: 1 };
    }
    if (ctx.path === '/token' && ctx.oidc?.params?.grant_type === GRANT) {
      let error = ctx.body && typeof ctx.body === 'object' ? ctx.body.error : undefined;
      if (error === 'authorization_pending' && slowDowns > 0) {
        slowDowns -= 1;
        ctx.body = { error: 'slow_down', error_description: 'the test asked for a slow_down' };
        error = 'slow_down';
      }
      polls.push({ at: arrived, error: error ?? null });
    }
  });
}
