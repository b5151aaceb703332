//! [`PendingCallback`]: a login waiting for the browser to come back.

use std::sync::Arc;
use std::time::Duration;

use crate::authorize::ResponseMode;
use crate::callback::{CallbackParams, mode_name};
use crate::client::AuthenticationClient;
use crate::dpop::DpopKey;
use crate::error::{AuthorizationError, Error, Result};
use crate::id_token::VerifyOptions;
use crate::redirect_uri::RedirectUri;
use crate::secret::{AuthorizationCode, CodeVerifier, ExposeSecret as _, Nonce, State};

use super::Authenticated;
use super::saved::{SavedPendingCallback, version_for};
use crate::authorization_details::TokenRequestExtras;

pub(super) struct Secrets {
    pub(super) state: State,
    pub(super) nonce: Nonce,
    pub(super) code_verifier: CodeVerifier,
    /// The session's DPoP key (RFC 9449), when the client uses DPoP.
    pub(super) dpop: Option<Arc<DpopKey>>,
}

/// A login that sent the browser to the provider and waits for the callback.
/// It owns the state, nonce and PKCE verifier, which it never hands out.
///
/// Complete it with [`complete`](Self::complete), which consumes it. To keep
/// it between the redirect and the callback (in a session store), see
/// [`export_with_secrets`](Self::export_with_secrets).
#[must_use = "a pending login does nothing until completed with the callback"]
pub struct PendingCallback {
    pub(super) client: AuthenticationClient,
    pub(super) secrets: Secrets,
    /// What the code exchange and the session's refreshes repeat of the login
    /// (RFC 8707 `resource`, RFC 9396 `authorization_details`).
    pub(super) token_extras: TokenRequestExtras,
    pub(super) redirect_uri: RedirectUri,
    pub(super) response_mode: Option<ResponseMode>,
    pub(super) max_age: Option<u64>,
    pub(super) created_at: u64,
    pub(super) pending_max_age: Duration,
}

impl std::fmt::Debug for PendingCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingCallback")
            .field("issuer", &self.client.issuer())
            .field("client_id", &self.client.app_id())
            .field("redirect_uri", &self.redirect_uri)
            .field("response_mode", &self.response_mode)
            .field("created_at", &self.created_at)
            .field("token_extras", &self.token_extras)
            .finish_non_exhaustive()
    }
}

impl PendingCallback {
    pub(super) fn new(
        client: AuthenticationClient,
        secrets: Secrets,
        token_extras: TokenRequestExtras,
        redirect_uri: RedirectUri,
        response_mode: Option<ResponseMode>,
        max_age: Option<u64>,
        pending_max_age: Duration,
    ) -> Self {
        let created_at = client.clock().unix_now();
        PendingCallback {
            client,
            secrets,
            token_extras,
            redirect_uri,
            response_mode,
            max_age,
            created_at,
            pending_max_age,
        }
    }

    /// The issuer this login is for.
    pub fn issuer(&self) -> &str {
        self.client.issuer()
    }

    /// The redirect URI this login uses, exactly as the authorize URL carries it.
    pub fn redirect_uri(&self) -> &str {
        self.redirect_uri.as_str()
    }

    /// The RFC 7638 thumbprint of this login's DPoP key (the `dpop_jkt` the
    /// authorize URL carries), when the client uses DPoP.
    pub fn dpop_thumbprint(&self) -> Option<&str> {
        self.secrets.dpop.as_deref().map(DpopKey::thumbprint)
    }

    /// What the code exchange and the session's refreshes will send besides
    /// the grant: the `resource` values and `authorization_details` chosen
    /// from the login's (docs/protocol.md §2.3.4).
    pub fn token_extras(&self) -> &TokenRequestExtras {
        &self.token_extras
    }

    /// When the login started, in seconds since the epoch.
    pub fn created_at(&self) -> u64 {
        self.created_at
    }

    /// Completes the login with the callback, running every check of the flow
    /// in order (see [the module docs](super)), and yields the verified
    /// session. The pending login is consumed whatever the outcome: a
    /// callback is answered once. To keep it when a callback was not sent for
    /// this login, ask [`check_binding`](Self::check_binding) first.
    pub async fn complete(self, callback: CallbackParams) -> Result<Authenticated> {
        let code = self.check_callback(&callback)?;
        let tokens = self
            .client
            .exchange_code(
                &code,
                Some(&self.secrets.code_verifier),
                &self.redirect_uri,
                &self.token_extras,
                self.secrets.dpop.as_deref(),
            )
            .await?;
        let id_token = tokens.id_token.clone().ok_or_else(|| Error::InvalidResponse {
            endpoint: "token endpoint".to_owned(),
            reason: "the token response of a login has no id_token".to_owned(),
        })?;
        let mut opts = VerifyOptions::new()
            .nonce(&self.secrets.nonce)
            .access_token(&tokens.access_token);
        if let Some(max_age) = self.max_age {
            opts = opts.max_age(Duration::from_secs(max_age));
        }
        let claims = self.client.id_token_verifier().verify(&id_token, &opts).await?;
        tracing::info!(issuer = %self.client.issuer(), sub = %claims.sub, "login completed");
        Ok(Authenticated::from_verified(
            self.client,
            tokens,
            id_token,
            claims,
            self.secrets.dpop,
            self.token_extras,
        ))
    }

    /// Checks that `callback` answers this login — its response mode, its
    /// `iss` (RFC 9207) and its `state` (RFC 6749 §10.12, constant time) —
    /// without consuming the pending login.
    ///
    /// A callback that fails these checks was not sent for this login: a
    /// forged link, another site's request, or another tab's login. Call this
    /// before removing the pending login from the session, so that such a
    /// request cannot abort the user's login in progress; the real callback
    /// can still complete it. [`complete`](Self::complete) runs these checks
    /// again, so skipping this call weakens nothing.
    pub fn check_binding(&self, callback: &CallbackParams) -> Result<()> {
        let expected_mode = self.response_mode.unwrap_or(ResponseMode::Query);
        if callback.mode() != expected_mode {
            return Err(Error::MalformedCallback(format!(
                "the login asked for a {} response, but the callback came as a {}",
                mode_name(expected_mode),
                mode_name(callback.mode())
            )));
        }
        // Repeated parameters were refused when `callback` was parsed.
        // RFC 9207 §2.4: iss must be the issuer when present; required when promised.
        match callback.get("iss") {
            Some(iss) if iss != self.client.issuer() => {
                return Err(Error::IssMismatch(format!(
                    "the callback came from {iss:?}, not {:?}",
                    self.client.issuer()
                )));
            }
            Some(_) => {}
            None => {
                // The FAPI 2.0 preset requires it whatever the metadata says (FAPI 2.0 §5.3.2.2).
                let promised = self.client.inner.fapi2
                    || self
                        .client
                        .provider_metadata()
                        .is_some_and(|m| m.authorization_response_iss_parameter_supported);
                if promised {
                    return Err(Error::IssMismatch(
                        "the provider promises iss in every response, and this callback has none".to_owned(),
                    ));
                }
            }
        }
        // RFC 6749 §10.12: the state binds the callback to this browser's login.
        match callback.get("state") {
            Some(state) if self.secrets.state.ct_eq(state) => Ok(()),
            _ => Err(Error::StateMismatch),
        }
    }

    /// Every check that needs no request, in the order of docs/protocol.md §3; the code.
    pub(crate) fn check_callback(&self, callback: &CallbackParams) -> Result<AuthorizationCode> {
        self.check_binding(callback)?;
        if let Some(error) = callback.get("error") {
            return Err(Error::Authorization(AuthorizationError {
                error: error.to_owned(),
                error_description: callback.get("error_description").map(str::to_owned),
                error_uri: callback.get("error_uri").map(str::to_owned),
            }));
        }
        let now = self.client.clock().unix_now();
        if now.saturating_sub(self.created_at) > self.pending_max_age.as_secs() {
            return Err(Error::PendingExpired {
                max_age_secs: self.pending_max_age.as_secs(),
            });
        }
        let code = callback
            .get("code")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| Error::MalformedCallback("the callback has no code".to_owned()))?;
        Ok(AuthorizationCode::new(code))
    }

    /// **Exports secrets.** A versioned, serde-able copy of this pending
    /// login, state, nonce and PKCE verifier included, for a session store.
    /// Keep it server-side or encrypted: whoever holds it can finish the login
    /// with a stolen code. Take it back with
    /// [`restore_from_trusted_store`](Self::restore_from_trusted_store).
    pub fn export_with_secrets(&self) -> SavedPendingCallback {
        let dpop_key = self.secrets.dpop.as_ref().map(|k| k.export_with_secrets());
        SavedPendingCallback {
            version: version_for(dpop_key.is_some(), !self.token_extras.is_empty()),
            dpop_key,
            token_resource: self.token_extras.resource.clone(),
            token_authorization_details: self.token_extras.authorization_details.clone(),
            token_authorization_details_json: super::saved::details_json(
                self.token_extras.authorization_details.as_ref(),
            ),
            issuer: self.client.issuer().to_owned(),
            client_id: self.client.app_id().to_owned(),
            redirect_uri: self.redirect_uri.as_str().to_owned(),
            response_mode: self.response_mode.map(|m| m.as_str().to_owned()),
            max_age: self.max_age,
            created_at: self.created_at,
            pending_max_age_secs: self.pending_max_age.as_secs(),
            state: self.secrets.state.expose_secret().to_owned(),
            nonce: self.secrets.nonce.expose_secret().to_owned(),
            code_verifier: self.secrets.code_verifier.expose_secret().to_owned(),
        }
    }

    /// Takes back a pending login saved with
    /// [`export_with_secrets`](Self::export_with_secrets). The store is
    /// trusted: its contents are not authenticated here. One made for another
    /// issuer or client id, or of an unknown version, is refused.
    pub fn restore_from_trusted_store(
        client: AuthenticationClient,
        saved: SavedPendingCallback,
    ) -> Result<Self> {
        saved.check(&client)?;
        let response_mode = match &saved.response_mode {
            Some(m) => Some(
                m.parse()
                    .map_err(|_| Error::Restore(format!("unknown response_mode {m:?}")))?,
            ),
            None => None,
        };
        if saved.state.is_empty() || saved.nonce.is_empty() {
            return Err(Error::Restore("the saved state or nonce is empty".to_owned()));
        }
        crate::pkce::check_verifier_form("code verifier", &saved.code_verifier)
            .map_err(|_| Error::Restore("the saved code verifier is malformed".to_owned()))?;
        // The saved string is the one the authorize URL carried; the code exchange must
        // repeat it unchanged (RFC 6749 §4.1.3). Older saves hold the re-serialised form,
        // which is what their authorize URL carried. Only the shape is checked here: the
        // scheme was checked when the login started, by the rules of that day.
        let redirect_uri = RedirectUri::check("redirect_uri", &saved.redirect_uri, true)
            .map_err(|e| Error::Restore(format!("the saved redirect_uri is not usable: {e}")))?;
        Ok(PendingCallback {
            client,
            secrets: Secrets {
                state: State::new(saved.state.clone()),
                nonce: Nonce::new(saved.nonce.clone()),
                code_verifier: CodeVerifier::new(saved.code_verifier.clone()),
                dpop: saved.restore_dpop_key()?,
            },
            token_extras: saved.restore_token_extras()?,
            redirect_uri,
            response_mode,
            max_age: saved.max_age,
            created_at: saved.created_at,
            pending_max_age: Duration::from_secs(saved.pending_max_age_secs),
        })
    }
}
