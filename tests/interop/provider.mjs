// Test harness: panva's oidc-provider (an independent, OpenID-certified OP) on 127.0.0.1.
//
// The Rust integration tests start this script, read the single JSON line it prints on stdout once
// it listens, and talk to it over HTTP. Everything else (provider notices, error events) goes to
// stderr. See README.md for the options.
//
// Usage: node provider.mjs [--port N] [--mount /oidc] [--keys FILE] [--write-keys FILE] [--ttl JSON]
//                          [--clock-tolerance SECS] [--redirect-uris JSON] [--clients JSON]
//                          [--plugin FILE.mjs]... [--exit-with-stdin]
// Each option can also come from the environment: INTEROP_PORT (or PORT), INTEROP_MOUNT,
// INTEROP_KEYS_FILE, INTEROP_WRITE_KEYS_FILE, INTEROP_TTL, INTEROP_CLOCK_TOLERANCE,
// INTEROP_REDIRECT_URIS, INTEROP_CLIENTS. Arguments win.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { parseArgs } from 'node:util';

// oidc-provider prints its notices with console.info, i.e. on stdout; stdout is reserved for the
// one JSON line the tests parse, so every console output goes to stderr. This must happen before
// the provider module is loaded (hence the dynamic import below).
for (const name of ['log', 'info', 'debug']) {
  console[name] = (...args) => console.error(...args);
}

function fail(message) {
  process.stderr.write(`provider.mjs: ${message}\n`);
  process.exit(2);
}

function parseJson(what, text, fallback) {
  if (text === undefined || text === '') return fallback;
  try {
    return JSON.parse(text);
  } catch (err) {
    return fail(`${what} is not valid JSON: ${err.message}`);
  }
}

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    port: { type: 'string' },
    mount: { type: 'string' },
    keys: { type: 'string' },
    'write-keys': { type: 'string' },
    ttl: { type: 'string' },
    'redirect-uris': { type: 'string' },
    clients: { type: 'string' },
    'clock-tolerance': { type: 'string' },
    'exit-with-stdin': { type: 'boolean' },
    plugin: { type: 'string', multiple: true },
  },
});

const env = process.env;
const portText = args.port ?? positionals[0] ?? env.INTEROP_PORT ?? env.PORT ?? '0';
const port = Number(portText);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`bad port ${JSON.stringify(portText)}`);

let mount = args.mount ?? env.INTEROP_MOUNT ?? '';
if (mount === '/') mount = '';
if (mount !== '' && !/^(\/[A-Za-z0-9._~-]+)+$/.test(mount)) {
  fail(`bad mount path ${JSON.stringify(mount)}: expected e.g. /oidc`);
}

// Time-to-live overrides in seconds, keyed by oidc-provider artifact name, e.g.
// {"AccessToken": 2, "IdToken": 60, "RefreshToken": 3600, "AuthorizationCode": 60}.
const ttlOverrides = parseJson('--ttl / INTEROP_TTL', args.ttl ?? env.INTEROP_TTL, {});
for (const [name, value] of Object.entries(ttlOverrides)) {
  if (!Number.isInteger(value) || value <= 0) fail(`ttl ${name} must be a positive integer of seconds`);
}

// oidc-provider accepts expired artifacts for `clockTolerance` seconds (15 by default). The
// harness defaults to 0 so that a test with a short TTL sees expiry when it expects it.
const toleranceText = args['clock-tolerance'] ?? env.INTEROP_CLOCK_TOLERANCE ?? '0';
const clockTolerance = Number(toleranceText);
if (!Number.isInteger(clockTolerance) || clockTolerance < 0) {
  fail(`bad clock tolerance ${JSON.stringify(toleranceText)}: expected whole seconds`);
}

const extraRedirectUris = parseJson(
  '--redirect-uris / INTEROP_REDIRECT_URIS',
  args['redirect-uris'] ?? env.INTEROP_REDIRECT_URIS,
  [],
);
if (!Array.isArray(extraRedirectUris) || extraRedirectUris.some((u) => typeof u !== 'string')) {
  fail('redirect uris must be a JSON array of strings');
}

const extraClients = parseJson('--clients / INTEROP_CLIENTS', args.clients ?? env.INTEROP_CLIENTS, []);
if (!Array.isArray(extraClients) || extraClients.some((c) => typeof c?.client_id !== 'string')) {
  fail('clients must be a JSON array of client metadata objects, each with a client_id');
}

// Signing keys: fresh at every start unless a file of private JWKs ({"keys": [...]}) is given.
function generateKeys() {
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const suffix = crypto.randomBytes(6).toString('hex');
  return [
    { ...rsa.export({ format: 'jwk' }), kid: `rsa-${suffix}`, alg: 'RS256', use: 'sig' },
    { ...ec.export({ format: 'jwk' }), kid: `ec-${suffix}`, alg: 'ES256', use: 'sig' },
  ];
}

const keysFile = args.keys ?? env.INTEROP_KEYS_FILE;
let keys;
if (keysFile) {
  let text;
  try {
    text = fs.readFileSync(keysFile, 'utf8');
  } catch (err) {
    fail(`cannot read keys file ${keysFile}: ${err.message}`);
  }
  keys = parseJson(`keys file ${keysFile}`, text, null)?.keys;
} else {
  keys = generateKeys();
}
if (!Array.isArray(keys) || keys.length === 0) fail('the keys file must hold {"keys": [private JWKs]}');

// --write-keys FILE saves the private signing keys (mode 0600), so a later start with
// --keys FILE signs with the same keys (the provider keeps nothing else across restarts).
const writeKeys = args['write-keys'] ?? env.INTEROP_WRITE_KEYS_FILE;
if (writeKeys) {
  try {
    fs.writeFileSync(writeKeys, `${JSON.stringify({ keys })}\n`, { mode: 0o600 });
  } catch (err) {
    fail(`cannot write keys file ${writeKeys}: ${err.message}`);
  }
}

const CALLBACK = 'http://127.0.0.1:3000/callback';
const redirectUris = [CALLBACK, ...extraRedirectUris];
const codeClient = {
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: redirectUris,
  post_logout_redirect_uris: redirectUris,
};

const clients = [
  {
    ...codeClient,
    client_id: 'rp-rs256',
    client_secret: 'rp-rs256-secret-0123456789abcdef0123456789',
    token_endpoint_auth_method: 'client_secret_post',
    id_token_signed_response_alg: 'RS256',
  },
  {
    ...codeClient,
    client_id: 'rp-basic',
    client_secret: 's3cr3t with spaces&+/=%',
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  },
  {
    ...codeClient,
    client_id: 'rp-es256',
    client_secret: 'rp-es256-secret-0123456789abcdef0123456789',
    token_endpoint_auth_method: 'client_secret_post',
    id_token_signed_response_alg: 'ES256',
  },
  {
    ...codeClient,
    client_id: 'rp-hs256',
    client_secret: 'rp-hs256-secret-0123456789abcdef0123456789',
    token_endpoint_auth_method: 'client_secret_post',
    id_token_signed_response_alg: 'HS256',
  },
  {
    ...codeClient,
    client_id: 'rp-public',
    token_endpoint_auth_method: 'none',
    id_token_signed_response_alg: 'RS256',
  },
  {
    client_id: 'rp-m2m',
    client_secret: 'rp-m2m-secret-0123456789abcdef0123456789',
    grant_types: ['client_credentials'],
    scope: 'api:read api:write',
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_post',
  },
];
for (const extra of extraClients) {
  const at = clients.findIndex((c) => c.client_id === extra.client_id);
  if (at === -1) clients.push(extra);
  else clients[at] = extra;
}

// Any login is accepted (devInteractions takes any password); the login becomes `sub` and the
// account gets profile, email, phone and address claims so that userinfo has data.
async function findAccount(ctx, sub) {
  return {
    accountId: sub,
    async claims() {
      return {
        sub,
        name: `Test User ${sub}`,
        preferred_username: sub,
        email: `${sub}@example.com`,
        email_verified: true,
        phone_number: '+1 555 0100',
        phone_number_verified: false,
        address: { country: 'ZZ', locality: 'Loopback' },
      };
    },
  };
}

const ttl = {
  AccessToken: 60 * 60,
  AuthorizationCode: 60,
  ClientCredentials: 10 * 60,
  IdToken: 60 * 60,
  RefreshToken: 24 * 60 * 60,
  Interaction: 60 * 60,
  Session: 24 * 60 * 60,
  Grant: 24 * 60 * 60,
  ...ttlOverrides,
};

const configuration = {
  clients,
  jwks: { keys },
  findAccount,
  ttl,
  clockTolerance,
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  // api:read and api:write are for client_credentials (scopes the provider does not know are
  // dropped from the token silently).
  scopes: ['openid', 'offline_access', 'api:read', 'api:write'],
  claims: {
    acr: null,
    sid: null,
    auth_time: null,
    iss: null,
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
    phone: ['phone_number', 'phone_number_verified'],
    address: ['address'],
  },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    clientCredentials: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  enabledJWA: {
    idTokenSigningAlgValues: ['RS256', 'ES256', 'HS256'],
  },
  // A refresh always rotates the refresh token (the default rotates only late in its life).
  rotateRefreshToken: true,
  // The default, spelled out: a refresh token only for clients allowed the refresh_token grant
  // that were granted offline_access (which itself needs prompt=consent).
  async issueRefreshToken(ctx, client, code) {
    return client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access');
  },
  // Authing-shaped paths when mounted (the JWKS is at {mount}/.well-known/jwks.json there).
  ...(mount ? { routes: { jwks: '/.well-known/jwks.json' } } : {}),
};

// Plugins: test-specific provider features without forking this script. Each `--plugin FILE`
// (relative to this directory) is an ES module that may export
//   configure(configuration, { keys, clients, mount })  - edit the configuration before the
//                                                          provider is built (features, hooks);
//   setup(provider, { issuer, appHost, mount })         - after it is built (custom grants,
//                                                          event listeners, extra routes).
// Several plugins apply in the order given.
const plugins = [];
for (const file of args.plugin ?? []) {
  const url = new URL(file, `file://${process.cwd()}/`);
  try {
    plugins.push(await import(url.href));
  } catch (err) {
    fail(`cannot load plugin ${file}: ${err.stack ?? err}`);
  }
}
for (const plugin of plugins) {
  try {
    await plugin.configure?.(configuration, { keys, clients, mount });
  } catch (err) {
    fail(`plugin configure failed: ${err.stack ?? err}`);
  }
}

const { default: Provider } = await import('oidc-provider');

// The issuer carries the port, so listen first and build the provider once the port is known.
let handler = (req, res) => {
  res.statusCode = 503;
  res.end('starting');
};
const server = http.createServer((req, res) => {
  if (mount) {
    // Strip the mount path the way Express does; oidc-provider derives its mount path from
    // req.originalUrl versus the URL it routes on.
    const url = req.url;
    if (url !== mount && !url.startsWith(`${mount}/`) && !url.startsWith(`${mount}?`)) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    req.originalUrl = url;
    req.url = url.slice(mount.length) || '/';
    if (req.url.startsWith('?')) req.url = `/${req.url}`;
  }
  handler(req, res);
});

// Node closes an idle keep-alive connection after 5 s by default; a client whose next request
// (a device poll 6 s after a slow_down) reuses that connection just as it closes gets a reset.
// The SDK polls again after one (RFC 8628 §3.5), but then at twice the interval, which the
// tests that measure the interval at the provider would read as a failure: keep idle
// connections longer than any test's pause.
server.keepAliveTimeout = 60_000;
server.headersTimeout = 61_000;
server.on('error', (err) => fail(`cannot listen on 127.0.0.1:${port}: ${err.message}`));
server.listen(port, '127.0.0.1', () => {
  const actualPort = server.address().port;
  const appHost = `http://127.0.0.1:${actualPort}`;
  const issuer = `${appHost}${mount}`;

  let provider;
  try {
    provider = new Provider(issuer, configuration);
  } catch (err) {
    fail(`bad provider configuration: ${err.stack ?? err}`);
  }
  // Only loopback, plain HTTP: no proxy headers to trust.
  provider.proxy = false;

  for (const plugin of plugins) {
    try {
      plugin.setup?.(provider, { issuer, appHost, mount });
    } catch (err) {
      fail(`plugin setup failed: ${err.stack ?? err}`);
    }
  }

  // Log every error event ("server_error", "grant.error", "authorization.error", ...) with the
  // real reason, since the provider's responses are deliberately terse.
  const emit = provider.emit.bind(provider);
  provider.emit = (event, ...rest) => {
    if (event === 'server_error' || event.endsWith('.error')) {
      const err = rest.find((x) => x instanceof Error);
      const detail = err
        ? `${err.name}: ${err.message}${err.error_detail ? ` (${err.error_detail})` : ''}`
        : '';
      process.stderr.write(`oidc-provider event ${event}: ${detail}\n`);
      if (event === 'server_error' && err?.stack) process.stderr.write(`${err.stack}\n`);
    }
    return emit(event, ...rest);
  };

  handler = provider.callback();

  const summary = clients.map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret ?? null,
    token_endpoint_auth_method: c.token_endpoint_auth_method ?? 'client_secret_basic',
    id_token_signed_response_alg: c.id_token_signed_response_alg ?? 'RS256',
    grant_types: c.grant_types ?? ['authorization_code'],
    response_types: c.response_types ?? ['code'],
    redirect_uris: c.redirect_uris ?? [],
  }));
  process.stdout.write(`${JSON.stringify({ issuer, app_host: appHost, clients: summary })}\n`);
});

function shutdown() {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
// With --exit-with-stdin the parent owns this process through a pipe on stdin: when the parent
// goes away, even without killing us (SIGKILL, abort), the pipe closes and so does the provider.
if (args['exit-with-stdin']) {
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
}
