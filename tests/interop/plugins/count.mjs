// Counts refresh_token grants on the provider's side, so a test can prove how many refreshes a
// group of clients really sent (issue 11: replicas sharing one session through Redis).
// GET /_counts answers {"refresh": {"success": N, "error": N}, "revoked": N}: a successful refresh
// is a `grant.success` event of grant_type refresh_token; an error one a `grant.error` event of
// that grant type; `revoked` counts grants revoked (reuse of a rotated refresh token revokes its grant).
export function setup(provider) {
  const counts = { refresh: { success: 0, error: 0 }, revoked: 0 };
  const isRefresh = (ctx) => ctx?.oidc?.params?.grant_type === 'refresh_token';
  provider.on('grant.success', (ctx) => {
    if (isRefresh(ctx)) counts.refresh.success += 1;
  });
  provider.on('grant.error', (ctx) => {
    if (isRefresh(ctx)) counts.refresh.error += 1;
  });
  provider.on('grant.revoked', () => {
    counts.revoked += 1;
  });
  provider.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === '/_counts') {
      ctx.type = 'application/json';
      ctx.body = JSON.stringify(counts);
      return;
    }
    await next();
  });
}
