//! The routes: `/`, `/login`, `/callback` (GET for `query`, POST for `form_post`), `/me` and
//! `/logout`.
//!
//! # The form_post cookie problem
//!
//! With `response_mode=form_post` the provider's page POSTs the response to `/callback` from
//! the provider's site. A `SameSite=Lax` cookie is not sent on a cross-site POST, so that
//! request arrives without the session cookie and the pending login cannot be found. (Lax is
//! still the right setting: it is what keeps other sites from posting forms into a user's
//! session.) When such a POST arrives without any session cookie, `/callback` answers with a
//! page of our own that posts the very same fields to `/callback?relayed=1` at once (a script,
//! or a button when JavaScript is off). That second POST starts on our site, so it is same-site
//! and carries the cookie. The marker stops a loop: a relayed POST that still has no cookie gets
//! an error page instead of another relay. Nothing is checked or stored on the way: the relay
//! only moves the fields to a request that can be matched with its session, where every check of
//! the flow happens as usual.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use authing_oidc::flow::{CallbackParams, PendingCallback, SavedPendingCallback, Unauthorized};
use authing_oidc::{AuthenticationClient, Error, ResponseMode};
use axum::Router;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use tower_sessions::cookie::SameSite;
use tower_sessions::cookie::time::Duration;
use tower_sessions::{Expiry, Session, SessionManagerLayer, SessionStore};

use crate::config::CALLBACK_PATH;
use crate::pages;
use crate::problem::Problem;
use crate::session::{LiveSessions, PENDING, Profile, SIGNED_IN, SignedIn, random_token};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "web_example_session";
/// Marks the same-site re-submission of a form_post callback.
const RELAYED: &str = "relayed=1";
/// The largest `/callback` body read. A form_post response (`code`, `state`, `iss`, perhaps
/// `session_state`) is a few hundred bytes; anything larger is answered 413 before the handler
/// runs, so no stranger's body reaches the flow's parser or the session store.
pub(crate) const CALLBACK_BODY_LIMIT: usize = 16 * 1024;

/// What every handler shares.
pub(crate) struct Shared {
    pub(crate) client: AuthenticationClient,
    pub(crate) response_mode: ResponseMode,
    pub(crate) scope: String,
    pub(crate) post_logout_redirect_uri: String,
    pub(crate) live: LiveSessions,
    pub(crate) relays: AtomicU64,
}

type AppState = State<Arc<Shared>>;
type Page = Result<Response, Problem>;

/// The app's routes with server-side sessions in `store`.
pub(crate) fn router<S: SessionStore + Clone>(shared: Arc<Shared>, store: S, secure_cookies: bool) -> Router {
    let sessions = SessionManagerLayer::new(store)
        .with_name(COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure_cookies)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(Duration::hours(8)));
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route(
            CALLBACK_PATH,
            get(callback_query)
                .post(callback_form_post)
                .layer(DefaultBodyLimit::max(CALLBACK_BODY_LIMIT)),
        )
        .route("/me", get(me))
        .route("/logout", get(logout_page).post(logout))
        .layer(sessions)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(shared)
}

async fn home(session: Session) -> Page {
    Ok(match session.get::<SignedIn>(SIGNED_IN).await? {
        Some(signed_in) => pages::home_signed_in(&signed_in.profile),
        None => pages::home_anonymous(),
    })
}

/// Starts a login: the pending login goes into the session, the browser to the provider.
async fn login(State(app): AppState, session: Session) -> Page {
    if session.get::<SignedIn>(SIGNED_IN).await?.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    let (url, pending) = Unauthorized::new(app.client.clone())
        .scope(app.scope.clone())
        .response_mode(app.response_mode)
        .start()?;
    // A new id for the session that holds the pending login: an id handed out earlier (or
    // planted by someone else) is not the one the login completes in.
    session.cycle_id().await?;
    session.insert(PENDING, pending.export_with_secrets()).await?;
    tracing::info!(issuer = %pending.issuer(), "login started");
    Ok(Redirect::to(url.as_str()).into_response())
}

/// `response_mode=query`: the response is in the query string.
async fn callback_query(State(app): AppState, session: Session, RawQuery(query): RawQuery) -> Page {
    let params = CallbackParams::from_query(query.as_deref().unwrap_or(""))?;
    finish_login(&app, &session, params).await
}

/// `response_mode=form_post`: the response is the form body. See the module docs for the relay.
async fn callback_form_post(
    State(app): AppState,
    session: Session,
    RawQuery(query): RawQuery,
    body: String,
) -> Page {
    let params = CallbackParams::from_form_post(&body)?;
    if session.id().is_none() {
        if query.as_deref() == Some(RELAYED) {
            return Err(Problem::cookies_blocked());
        }
        app.relays.fetch_add(1, Ordering::Relaxed);
        tracing::info!("form_post callback without the session cookie: re-submitting it same-site");
        let fields: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        return Ok(pages::relay(&format!("{CALLBACK_PATH}?{RELAYED}"), &fields));
    }
    finish_login(&app, &session, params).await
}

async fn finish_login(app: &Shared, session: &Session, params: CallbackParams) -> Page {
    let Some(saved) = session.get::<SavedPendingCallback>(PENDING).await? else {
        return Err(Problem::no_pending_login());
    };
    let pending = match PendingCallback::restore_from_trusted_store(app.client.clone(), saved) {
        Ok(pending) => pending,
        Err(error) => {
            forget_pending(session).await?;
            return Err(error.into());
        }
    };
    // A callback whose state (or iss, or response mode) is not this login's was not sent for
    // it: a forged link or another site's request. It leaves the pending login in place, so a
    // stranger cannot abort the user's login in progress.
    pending.check_binding(&params)?;
    // From here a pending login answers one callback, whatever its outcome.
    forget_pending(session).await?;
    let auth = pending.complete(params).await?;
    let info = match auth.userinfo().await {
        Ok(info) => Some(info),
        Err(error) => {
            tracing::warn!(%error, "userinfo after login failed; showing the id_token's claims");
            None
        }
    };
    let profile = Profile::from_login(&auth.claims(), info.as_ref());
    if let Some(previous) = session.get::<SignedIn>(SIGNED_IN).await? {
        app.live.remove(&previous.login_id);
    }
    // Rotate at login: the session id that carried the login in is not the one that is signed in.
    session.cycle_id().await?;
    let login_id = random_token();
    let live = app.live.adopt(login_id.clone(), auth);
    session
        .insert(
            SIGNED_IN,
            SignedIn {
                login_id,
                profile,
                tokens: live.export_with_secrets(),
            },
        )
        .await?;
    tracing::info!(sub = %live.subject(), "signed in");
    Ok(Redirect::to("/").into_response())
}

/// Removes the pending login, saved at once so that not even an error page that skips the
/// session middleware's save leaves it behind.
async fn forget_pending(session: &Session) -> Result<(), Problem> {
    session.remove_value(PENDING).await?;
    session.save().await?;
    Ok(())
}

/// The user's claims from userinfo, with an access token the SDK refreshes when it must.
async fn me(State(app): AppState, session: Session) -> Page {
    let Some(mut signed_in) = session.get::<SignedIn>(SIGNED_IN).await? else {
        return Ok(Redirect::to("/").into_response());
    };
    let live = match app.live.get(&app.client, &signed_in) {
        Ok(live) => live,
        Err(error) => {
            end_session(&app, &session, &signed_in).await?;
            return Err(error.into());
        }
    };
    let result = live.userinfo().await;
    // First the tokens: a refresh may have rotated the refresh token, and the old one is dead.
    keep_tokens(&session, &mut signed_in, &live).await?;
    match result {
        Ok(info) => {
            let expires_in = live.current_access_token().expires_in.map(|d| d.as_secs());
            Ok(pages::me(&info, expires_in, live.refresh_count()))
        }
        Err(error @ Error::ReauthenticationRequired(_)) => {
            end_session(&app, &session, &signed_in).await?;
            Err(error.into())
        }
        Err(error) => Err(error.into()),
    }
}

/// Writes the live session's tokens back to the session store when a refresh changed them.
async fn keep_tokens(
    session: &Session,
    signed_in: &mut SignedIn,
    live: &authing_oidc::flow::Authenticated,
) -> Result<(), Problem> {
    if live.refresh_count() == signed_in.tokens.refresh_count() {
        return Ok(());
    }
    signed_in.tokens = live.export_with_secrets();
    session.insert(SIGNED_IN, &*signed_in).await?;
    // Saved now rather than by the middleware, which skips the save on a 5xx answer.
    session.save().await?;
    Ok(())
}

async fn end_session(app: &Shared, session: &Session, signed_in: &SignedIn) -> Result<(), Problem> {
    app.live.remove(&signed_in.login_id);
    session.remove_value(SIGNED_IN).await?;
    Ok(())
}

async fn logout_page(session: Session) -> Page {
    Ok(match session.get::<SignedIn>(SIGNED_IN).await? {
        Some(_) => pages::logout_confirm(),
        None => Redirect::to("/").into_response(),
    })
}

/// Revokes the tokens, forgets the session, and sends the browser to the provider's logout.
async fn logout(State(app): AppState, session: Session) -> Page {
    let Some(signed_in) = session.get::<SignedIn>(SIGNED_IN).await? else {
        return Ok(Redirect::to("/").into_response());
    };
    let live = app.live.get(&app.client, &signed_in);
    app.live.remove(&signed_in.login_id);
    session.flush().await?;
    let live = match live {
        Ok(live) => live,
        Err(error) => {
            tracing::warn!(%error, "logout: the saved session could not be restored");
            return Ok(Redirect::to("/").into_response());
        }
    };
    // The user is leaving whatever the provider says; a failed revocation is only logged.
    if let Err(error) = live.revoke().await {
        tracing::warn!(%error, "logout: revoking the tokens failed");
    }
    tracing::info!(sub = %live.subject(), "signed out");
    match live.logout_url(&app.post_logout_redirect_uri, None) {
        Ok(url) => Ok(Redirect::to(url.as_str()).into_response()),
        Err(error) => {
            tracing::info!(%error, "the provider has no logout endpoint; staying here");
            Ok(Redirect::to("/").into_response())
        }
    }
}

/// Headers every page gets (a page may set its own policy first, as the relay page does).
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ));
    // Pages are per user and some carry one-time values.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
