// RFC 7591 / 7592 dynamic client registration for tests/interop.rs and the CLI tests: open
// registration (no initial access token) and registration management (read, update, delete).
// registration-iat.mjs is the same with an initial access token required.
export function configure(configuration) {
  configuration.features.registration = { enabled: true };
  configuration.features.registrationManagement = { enabled: true, rotateRegistrationAccessToken: false };
}
