//! Where the browser is sent to log in, when the request travels another
//! way than the URL's query: pushed to the provider first (PAR, RFC 9126;
//! docs/protocol.md §2.3.2) or signed as a request object (JAR, RFC 9101;
//! §2.3.3).

use serde::Deserialize;
use url::Url;

use super::{AuthenticationClient, Endpoint};
use crate::authorize::{self, AuthorizeContext, AuthorizeParams, AuthorizeUrl};
use crate::error::{Error, Result};
use crate::http::{Body, Form, Reply};

/// The provider's answer to a pushed authorization request (RFC 9126 §2.2).
#[derive(Deserialize)]
struct PushedAnswer {
    request_uri: String,
    expires_in: u64,
}

/// The checks of RFC 9126 §2.2 on a pushed authorization answer: its
/// `request_uri` (which goes into the browser's URL, encoded).
pub(crate) fn request_uri_from(reply: Reply) -> Result<String> {
    let reply = reply.error_for_status(Body::Quotable)?;
    // RFC 9126 §2.2 says 201; a 200 with the same body is taken too.
    let answer: PushedAnswer = reply.json(Body::Quotable)?;
    if answer.request_uri.is_empty() {
        return Err(Error::InvalidResponse {
            endpoint: reply.endpoint.clone(),
            reason: "the pushed authorization response has an empty request_uri".to_owned(),
        });
    }
    tracing::debug!(expires_in = answer.expires_in, "authorization request pushed");
    Ok(answer.request_uri)
}

impl AuthenticationClient {
    /// Whether logins push their request first: configured with
    /// [`pushed_authorization_requests`](crate::AuthenticationClientBuilder::pushed_authorization_requests),
    /// or required by the provider's metadata
    /// (`require_pushed_authorization_requests`, RFC 9126 §5).
    pub fn uses_par(&self) -> bool {
        self.inner.par
            || self
                .provider_metadata()
                .is_some_and(|m| m.require_pushed_authorization_requests)
    }

    /// Whether authorization requests are signed request objects (RFC 9101).
    pub fn uses_jar(&self) -> bool {
        self.inner.jar
    }

    /// The authorization request for `params`: its parameters with the
    /// state and nonce (generated when not given). OIDC and OAuth only.
    fn prepared(&self, params: AuthorizeParams) -> Result<authorize::Prepared> {
        if !matches!(
            self.inner.protocol,
            crate::Protocol::Oidc | crate::Protocol::Oauth
        ) {
            return Err(Error::config(format!(
                "protocol {} has no authorization request to push or sign",
                self.inner.protocol.as_str()
            )));
        }
        self.inner.profile_checks_authorize(&params)?;
        authorize::prepare(
            AuthorizeContext {
                protocol: self.inner.protocol,
                app_id: &self.inner.app_id,
                endpoint: self.endpoint(Endpoint::Authorization)?,
                redirect_uri: self.redirect_uri_for(
                    "redirect_uri",
                    params.redirect_uri.as_deref(),
                    "for the authorize URL",
                )?,
            },
            params,
        )
    }

    /// The request object (RFC 9101 §4) for prepared parameters.
    fn request_object(&self, prepared: &authorize::Prepared) -> Result<secrecy::SecretString> {
        let signer = self.inner.credentials.key_signer().ok_or_else(|| {
            Error::config("signed request objects (JAR) need the client's private key (client_key)")
        })?;
        crate::request_object::sign(
            &prepared.params,
            &self.inner.app_id,
            &self.inner.issuer,
            signer,
            self.clock().unix_now(),
        )
    }

    /// A login URL whose parameters travel in a signed request object, by
    /// value: `?client_id=…&request=…` (RFC 9101 §5.1).
    pub(crate) fn signed_authorize_url(&self, params: AuthorizeParams) -> Result<AuthorizeUrl> {
        let prepared = self.prepared(params)?;
        let jwt = self.request_object(&prepared)?;
        let mut url = prepared.endpoint.clone();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("client_id", &self.inner.app_id);
            // OIDC Core §6.1: an OpenID request stays a valid OAuth request outside the
            // object too, so response_type and scope are repeated (with the same values; the
            // provider uses the object's, RFC 9101 §5).
            for (name, value) in &prepared.params {
                if name == "response_type" || name == "scope" {
                    query.append_pair(name, value);
                }
            }
            query.append_pair("request", secrecy::ExposeSecret::expose_secret(&jwt));
        }
        Ok(prepared.into_url(url))
    }

    /// Pushes the authorization request to the provider (RFC 9126 §2.1),
    /// authenticated with the token endpoint's method (and as a signed
    /// request object when [`uses_jar`](Self::uses_jar)), and returns the
    /// URL to send the browser to: the authorization endpoint with only
    /// `client_id` and the `request_uri` the provider answered (§4).
    ///
    /// The returned [`AuthorizeUrl`] holds the state and nonce to check the
    /// callback against, as [`build_authorize_url`](Self::build_authorize_url)'s does.
    pub async fn push_authorization_request(&self, params: AuthorizeParams) -> Result<AuthorizeUrl> {
        self.push_authorization_request_with(params, None).await
    }

    /// [`push_authorization_request`](Self::push_authorization_request) with
    /// a DPoP proof of `dpop` (RFC 9449 §10.1), answered once more with the
    /// provider's nonce when it asks for one.
    pub(crate) async fn push_authorization_request_with(
        &self,
        params: AuthorizeParams,
        dpop: Option<&crate::dpop::DpopKey>,
    ) -> Result<AuthorizeUrl> {
        let prepared = self.prepared(params)?;
        let endpoint = self.endpoint(Endpoint::PushedAuthorization)?;
        // Made per attempt, as the client authentication is: a nonce retry sends a fresh
        // client assertion and, with JAR, a fresh request object (its own jti, iat and exp).
        let make_form = || -> Result<Form> {
            let mut form = Form::new();
            if self.uses_jar() {
                // RFC 9126 §3: the request object is the whole request.
                let jwt = self.request_object(&prepared)?;
                form.push_secret("request", secrecy::ExposeSecret::expose_secret(&jwt));
                return Ok(form);
            }
            for (name, value) in &prepared.params {
                // client_id comes with the client authentication.
                // state and nonce are secrets (src/secret.rs): pushed as such, an error
                // answer that echoes them is scrubbed like any other sent secret.
                match name.as_str() {
                    "client_id" => {}
                    "state" => {
                        form.push_secret("state", value);
                    }
                    "nonce" => {
                        form.push_secret("nonce", value);
                    }
                    _ => {
                        form.push_owned(name.clone(), value.clone());
                    }
                }
            }
            Ok(form)
        };
        let reply = self
            .post_made_form_dpop(
                "pushed_authorization_request",
                endpoint,
                &make_form,
                Some(self.inner.token_auth),
                dpop,
            )
            .await?;
        let request_uri = request_uri_from(reply)?;
        let mut url: Url = prepared.endpoint.clone();
        url.query_pairs_mut()
            .append_pair("client_id", &self.inner.app_id)
            .append_pair("request_uri", &request_uri);
        Ok(prepared.into_url(url))
    }
}
