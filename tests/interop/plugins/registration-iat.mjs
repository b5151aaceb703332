// As registration.mjs, but registering needs the initial access token
// `test-initial-access-token` (RFC 7591 §3).
export function configure(configuration) {
  configuration.features.registration = { enabled: true, initialAccessToken: 'test-initial-access-token' };
  configuration.features.registrationManagement = { enabled: true, rotateRegistrationAccessToken: false };
}
