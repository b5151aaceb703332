// Records every pushed authorization request as the provider answered it, for
// tests/interop_fapi2.rs: the answer's status and `error`, the `jti` of the request object
// (JAR) it carried, and the `jti` and `nonce` of its DPoP proof. `GET /__par/pushes` lists
// them. With dpop.mjs (nonces required) this shows what a client resends after
// `use_dpop_nonce`.
const pushes = [];

function claims(jwt) {
  if (typeof jwt !== 'string' || jwt.split('.').length !== 3) return null;
  try {
    return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
  } catch {
    return null;
  }
}

export function setup(provider) {
  provider.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path.endsWith('/__par/pushes')) {
      ctx.body = { pushes };
      return;
    }
    const isPush = ctx.method === 'POST' && ctx.path.endsWith('/request');
    await next();
    if (isPush) {
      const request = claims(ctx.oidc?.body?.request);
      const proof = claims(ctx.get('DPoP'));
      pushes.push({
        status: ctx.status,
        error: ctx.body?.error ?? null,
        request_jti: request?.jti ?? null,
        proof_jti: proof?.jti ?? null,
        proof_nonce: proof?.nonce ?? null,
      });
    }
  });
}
