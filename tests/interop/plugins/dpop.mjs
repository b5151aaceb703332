// DPoP (RFC 9449) with nonces, for tests/dpop.rs: the provider sends DPoP-Nonce and demands a
// nonce in every proof (use_dpop_nonce otherwise), and two clients must present DPoP proofs at
// the token endpoint (dpop_bound_access_tokens): a confidential one and a public one, whose
// refresh tokens the provider binds to the key too.
import * as crypto from 'node:crypto';

const CALLBACK = 'http://127.0.0.1:3000/callback';

export function configure(configuration, { clients }) {
  configuration.features.dPoP = {
    enabled: true,
    // 32 bytes: the provider derives its rotating nonces from it.
    nonceSecret: crypto.randomBytes(32),
    requireNonce: () => true,
  };
  const dpopClient = {
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [CALLBACK],
    id_token_signed_response_alg: 'RS256',
    dpop_bound_access_tokens: true,
  };
  clients.push(
    {
      ...dpopClient,
      client_id: 'rp-dpop',
      client_secret: 'rp-dpop-secret-0123456789abcdef0123456789',
      token_endpoint_auth_method: 'client_secret_post',
    },
    { ...dpopClient, client_id: 'rp-dpop-public', token_endpoint_auth_method: 'none' },
  );
}
