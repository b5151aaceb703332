// OpenID Connect Back-Channel Logout 1.0 (tests/interop.rs, crates/web-example browser test):
// `features.backchannelLogout` on. The tests add their own client with `backchannel_logout_uri`
// pointing at their server (and `backchannel_logout_session_required: true`, so id_tokens and
// logout tokens carry `sid`). On logout the provider posts a logout token to every client of the
// session that has one, and waits for their answers before it continues.
//
// Each delivery's outcome is logged on stderr (`backchannel.success` / `backchannel.error`), so a
// failing test shows what the provider saw.
export function configure(configuration) {
  configuration.features.backchannelLogout = { enabled: true };
  // The provider's outgoing requests refuse special-use addresses (SSRF protection), loopback
  // included; the tests' relying parties listen on 127.0.0.1, so deliveries go out without it.
  configuration.fetch = (url, options) => {
    const { dispatcher, ...rest } = options;
    return globalThis.fetch(url, rest);
  };
}

export function setup(provider) {
  provider.on('backchannel.success', (ctx, client, accountId, sid) => {
    process.stderr.write(`backchannel.success client=${client.clientId} sub=${accountId} sid=${sid}\n`);
  });
  provider.on('backchannel.error', (ctx, err, client) => {
    process.stderr.write(`backchannel.error client=${client.clientId}: ${err.message}\n`);
  });
}
