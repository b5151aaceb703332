// Proves the plugin mechanism (tests/interop_harness.rs): one configuration change and one
// change after the provider is built, both observable from the outside.
export function configure(configuration) {
  configuration.scopes = [...configuration.scopes, 'plugin:loaded'];
}

export function setup(provider) {
  provider.use(async (ctx, next) => {
    await next();
    ctx.set('x-harness-plugin', 'echo');
  });
}
