// Signed userinfo (OIDC Core §5.3.2) and JWT introspection answers (RFC 9701): the features
// `jwtUserinfo` and `jwtIntrospection` on. A test's client registers
// `userinfo_signed_response_alg` / `introspection_signed_response_alg`; the provider then answers
// userinfo as `application/jwt`, and introspection as `application/token-introspection+jwt` when
// the request asks for it with `Accept`.
export function configure(configuration) {
  configuration.features.jwtUserinfo = { enabled: true };
  configuration.features.jwtIntrospection = { enabled: true };
}
