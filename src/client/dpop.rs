//! Requests with DPoP proofs (RFC 9449): the proof, the nonce the server
//! asked for, and the one retry a `use_dpop_nonce` answer gets. Every grant
//! goes through here, so no grant threads DPoP by hand.

use reqwest::header::{self, HeaderName};
use url::Url;

use super::AuthenticationClient;
use crate::config::AuthMethod;
use crate::dpop::DpopKey;
use crate::error::Result;
use crate::http::{Credentials, Form, Reply};
use crate::secret::{AccessToken, ExposeSecret as _};

/// The request header that carries a proof (RFC 9449 §4.1).
pub(crate) const DPOP: HeaderName = HeaderName::from_static("dpop");

impl AuthenticationClient {
    /// `POST` a form to a token (or PAR) endpoint with the client's
    /// credentials for `app_auth` and, with `dpop`, a proof. A
    /// `use_dpop_nonce` refusal that brings a new nonce is answered by
    /// exactly one more request with it (RFC 9449 §8); a second refusal is
    /// the answer. The form and client authentication are made afresh for
    /// each request, so a client assertion's `jti` is never sent twice.
    pub(crate) async fn post_form_dpop(
        &self,
        operation: &'static str,
        url: Url,
        form: &Form,
        app_auth: Option<AuthMethod>,
        dpop: Option<&DpopKey>,
    ) -> Result<Reply> {
        self.post_made_form_dpop(operation, url, &|| Ok(form.clone()), app_auth, dpop)
            .await
    }

    /// [`post_form_dpop`](Self::post_form_dpop) with the form made by
    /// `make_form` for each request: a form that holds a signed request object
    /// (PAR with JAR) gets a new one, with a new `jti`, for the nonce retry
    /// (RFC 9101 §10.8; FAPI 2.0 Message Signing wants every `jti` once).
    pub(crate) async fn post_made_form_dpop(
        &self,
        operation: &'static str,
        url: Url,
        make_form: &(dyn Fn() -> Result<Form> + Send + Sync),
        app_auth: Option<AuthMethod>,
        dpop: Option<&DpopKey>,
    ) -> Result<Reply> {
        let mut nonce = dpop.and_then(|_| self.inner.dpop_nonces.get(&url));
        let mut retried = false;
        loop {
            let mut form = make_form()?;
            let authorization = match app_auth {
                Some(method) => self.authenticate(method, &mut form)?,
                None => None,
            };
            let mut credentials = Credentials::default();
            if let Some(key) = dpop {
                self.add_proof(&mut credentials, key, "POST", &url, nonce.as_deref(), None)?;
            }
            let reply = self
                .http()
                .post_form_with(operation, url.clone(), &form, authorization, credentials)
                .await?;
            match self.nonce_retry(dpop, &url, &reply, nonce.as_deref()) {
                Some(fresh) if !retried => {
                    retried = true;
                    nonce = Some(fresh);
                }
                _ => return Ok(reply),
            }
        }
    }

    /// `GET` a resource with an access token: `Authorization: Bearer`, or
    /// with `dpop` `Authorization: DPoP` and a proof with the token's hash
    /// (RFC 9449 §7.1), retried once on a `use_dpop_nonce` challenge (§9).
    pub(crate) async fn get_resource(
        &self,
        operation: &'static str,
        url: Url,
        access_token: &AccessToken,
        dpop: Option<&DpopKey>,
    ) -> Result<Reply> {
        let mut nonce = dpop.and_then(|_| self.inner.dpop_nonces.get(&url));
        let mut retried = false;
        loop {
            let credentials = self.resource_credentials(&url, "GET", access_token, dpop, nonce.as_deref())?;
            let reply = self.http().get_with(operation, url.clone(), credentials).await?;
            match self.nonce_retry(dpop, &url, &reply, nonce.as_deref()) {
                Some(fresh) if !retried => {
                    retried = true;
                    nonce = Some(fresh);
                }
                _ => return Ok(reply),
            }
        }
    }

    /// The headers of a resource request: `Authorization` and, with DPoP, the proof.
    pub(crate) fn resource_credentials(
        &self,
        url: &Url,
        method: &str,
        access_token: &AccessToken,
        dpop: Option<&DpopKey>,
        nonce: Option<&str>,
    ) -> Result<Credentials> {
        let mut credentials = Credentials::default();
        match dpop {
            Some(key) => {
                credentials.insert(header::AUTHORIZATION, "DPoP ", access_token.expose_secret())?;
                self.add_proof(&mut credentials, key, method, url, nonce, Some(access_token))?;
            }
            None => credentials.insert(header::AUTHORIZATION, "Bearer ", access_token.expose_secret())?,
        }
        Ok(credentials)
    }

    /// The nonce to send to `url`'s server now, if it gave one.
    pub(crate) fn dpop_nonce(&self, url: &Url) -> Option<String> {
        self.inner.dpop_nonces.get(url)
    }

    /// Remembers the nonce in an answer; the new one to retry with when the
    /// answer asks for it.
    pub(crate) fn nonce_retry(
        &self,
        dpop: Option<&DpopKey>,
        url: &Url,
        reply: &Reply,
        sent: Option<&str>,
    ) -> Option<String> {
        dpop?;
        let fresh = self
            .inner
            .dpop_nonces
            .observe(url, reply.status, &reply.headers, &reply.body, sent);
        if fresh.is_some() {
            tracing::debug!(endpoint = %reply.endpoint, "the server asks for a DPoP nonce; retrying once");
        }
        fresh
    }

    /// Remembers the nonce in a resource server's answer; the new one to
    /// retry with when the answer is a `use_dpop_nonce` challenge.
    pub(crate) fn observe_nonce(
        &self,
        url: &Url,
        status: reqwest::StatusCode,
        headers: &reqwest::header::HeaderMap,
        sent: Option<&str>,
    ) -> Option<String> {
        self.inner.dpop_nonces.observe(url, status, headers, b"", sent)
    }

    fn add_proof(
        &self,
        credentials: &mut Credentials,
        key: &DpopKey,
        method: &str,
        url: &Url,
        nonce: Option<&str>,
        access_token: Option<&AccessToken>,
    ) -> Result<()> {
        let proof = key.proof(method, url, self.clock().unix_now(), nonce, access_token)?;
        credentials.insert(DPOP, "", proof.expose_secret())
    }
}
