// The FAPI 2.0 Security Profile (tests/interop_fapi2.rs): oidc-provider's `fapi` feature with
// profile 2.0 (client assertions addressed to the issuer, PKCE, request object rules), PAR
// required for every client, and signed request objects accepted inside PAR. The clients come
// from the test (`PanvaOptions::client`), registered with their public `jwks`.
export function configure(configuration) {
  configuration.features = {
    ...configuration.features,
    fapi: { enabled: true, profile: '2.0' },
    pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
    requestObjects: { enabled: true, requireSignedRequestObject: false },
  };
  configuration.enabledJWA = {
    ...configuration.enabledJWA,
    idTokenSigningAlgValues: ['PS256', 'ES256', 'EdDSA', 'RS256'],
    clientAuthSigningAlgValues: ['PS256', 'ES256', 'EdDSA'],
    requestObjectSigningAlgValues: ['PS256', 'ES256', 'EdDSA'],
  };
}
