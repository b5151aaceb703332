//! Calling a resource server with the session's access token: the right
//! `Authorization` header and, for a DPoP session, a proof per request
//! (RFC 9449 §7), with the one nonce retry of §9.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use url::Url;

use super::Authenticated;
use crate::error::{Error, Result};
use crate::http::{endpoint_label, transport};

impl Authenticated {
    /// The headers a request `method url` to a resource server needs, with
    /// an access token valid for at least the refresh margin (refreshing
    /// first when needed, as [`access_token`](Self::access_token) does):
    ///
    /// - without DPoP, `Authorization: Bearer <token>` (RFC 6750 §2.1);
    /// - with DPoP, `Authorization: DPoP <token>` and a `DPoP` proof for this
    ///   method and URL with the token's hash and the latest nonce that
    ///   server gave (RFC 9449 §7.1).
    ///
    /// A proof is good for one request: ask again for the next one. Both
    /// values are marked sensitive, so HTTP logging redacts them.
    /// [`send`](Self::send) does this and answers a nonce challenge too.
    ///
    /// ```no_run
    /// # async fn run(session: authing_oidc::flow::Authenticated) -> Result<(), authing_oidc::Error> {
    /// let url = url::Url::parse("https://api.example.com/orders?page=2").unwrap();
    /// let headers = session.authorize_request(&reqwest::Method::GET, &url).await?;
    /// let orders = reqwest::Client::new().get(url).headers(headers).send().await;
    /// # let _ = orders; Ok(()) }
    /// ```
    pub async fn authorize_request(&self, method: &Method, url: &Url) -> Result<HeaderMap> {
        let token = self.access_token().await?;
        let client = &self.inner.client;
        let dpop = self.inner.dpop.as_deref();
        let nonce = dpop.and_then(|_| client.dpop_nonce(url));
        let credentials =
            client.resource_credentials(url, method.as_str(), &token.access_token, dpop, nonce.as_deref())?;
        Ok(credentials.into_headers())
    }

    /// Sends `request` (built on any `reqwest::Client`) with the headers of
    /// [`authorize_request`](Self::authorize_request). When a DPoP session's
    /// server answers `401` with a `use_dpop_nonce` challenge and a new
    /// `DPoP-Nonce` (RFC 9449 §9), the request is sent exactly once more
    /// with a proof carrying it; the server's latest nonce is remembered for
    /// the next request. The response is returned whatever its status.
    ///
    /// ```no_run
    /// # async fn run(session: authing_oidc::flow::Authenticated) -> Result<(), authing_oidc::Error> {
    /// let http = reqwest::Client::new();
    /// let response = session.send(http.get("https://api.example.com/orders")).await?;
    /// # let _ = response; Ok(()) }
    /// ```
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let (http, request) = request.build_split();
        let request =
            request.map_err(|e| Error::input(format!("the request cannot be built: {}", e.without_url())))?;
        let token = self.access_token().await?;
        let client = &self.inner.client;
        let dpop = self.inner.dpop.as_deref();
        let url = request.url().clone();
        let endpoint = endpoint_label(&url);
        let method = request.method().clone();
        // A streamed body cannot be sent twice: such a request gets no retry.
        let mut spare = request.try_clone();
        let mut next = Some(request);
        let mut nonce = dpop.and_then(|_| client.dpop_nonce(&url));
        loop {
            let Some(mut attempt) = next.take() else {
                return Err(Error::input("the request cannot be sent again"));
            };
            let credentials = client.resource_credentials(
                &url,
                method.as_str(),
                &token.access_token,
                dpop,
                nonce.as_deref(),
            )?;
            attempt.headers_mut().extend(credentials.into_headers());
            let response = http.execute(attempt).await.map_err(|e| transport(e, &endpoint))?;
            let fresh = dpop.and_then(|_| {
                client.observe_nonce(&url, response.status(), response.headers(), nonce.as_deref())
            });
            match (fresh, spare.take()) {
                (Some(fresh), Some(copy)) if response.status() == StatusCode::UNAUTHORIZED => {
                    tracing::debug!(endpoint = %endpoint, "the resource server asks for a DPoP nonce; retrying once");
                    nonce = Some(fresh);
                    next = Some(copy);
                }
                _ => return Ok(response),
            }
        }
    }
}
