//! `/login`, `/callback` (GET for `query`, POST for `form_post`) and `/logout`.
//!
//! # The form_post cookie problem
//!
//! With `response_mode=form_post` the provider's page POSTs the response to the callback from
//! the provider's site. A `SameSite=Lax` cookie is not sent on a cross-site POST, so that
//! request arrives without the session cookie and the pending login cannot be found (Lax is
//! still right: it keeps other sites from posting into a user's session). When such a POST
//! arrives without any session cookie, the callback answers with a page that posts the very
//! same fields to `{callback}?relayed=1` at once. That second POST starts on our site, so it is
//! same-site and carries the cookie; the marker stops a loop. Nothing is checked or stored on
//! the way: every check of the flow happens on the relayed request.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use authing_oidc::flow::{CallbackParams, PendingCallback, SavedPendingCallback, Unauthorized};
use axum::Extension;
use axum::extract::{Query, RawQuery};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::Shared;
use crate::error::LoginError;
use crate::pages;
use crate::return_to::checked_return_to;
use crate::session::{PENDING, RETURN_TO, SIGNED_IN, SignedIn, random_token};

/// Marks the same-site re-submission of a form_post callback.
const RELAYED: &str = "relayed=1";

type Page = Result<Response, LoginError>;

/// `/login?return_to=/path`.
#[derive(Deserialize)]
pub(crate) struct LoginQuery {
    return_to: Option<String>,
}

/// Starts a login: the pending login into the session, the browser to the provider.
pub(crate) async fn login(
    Extension(app): Extension<Arc<Shared>>,
    session: Session,
    Query(query): Query<LoginQuery>,
) -> Page {
    let page = |e: LoginError| e.with_login_path(&app.login_path);
    // Refused, not repaired: an unusable return_to means the default page.
    let return_to = match query.return_to.as_deref() {
        Some(candidate) => match checked_return_to(candidate) {
            Some(path) => path.to_owned(),
            None => {
                tracing::warn!("login: return_to refused (not a same-origin relative path)");
                app.default_return_to.clone()
            }
        },
        None => app.default_return_to.clone(),
    };
    // Already signed in: nothing to do at the provider.
    if session
        .get::<SignedIn>(SIGNED_IN)
        .await
        .map_err(|e| page(e.into()))?
        .is_some()
    {
        return Ok(Redirect::to(&return_to).into_response());
    }
    let mut flow = Unauthorized::new(app.client.clone())
        .scope(app.scope.clone())
        .response_mode(app.response_mode);
    if let Some(uri) = &app.redirect_uri {
        flow = flow.redirect_uri(uri.clone());
    }
    let (url, pending) = flow.start().map_err(|e| page(e.into()))?;
    // A new id for the session that holds the pending login: an id handed out earlier (or
    // planted by someone else) is not the one the login completes in.
    session.cycle_id().await.map_err(|e| page(e.into()))?;
    session
        .insert(PENDING, pending.export_with_secrets())
        .await
        .map_err(|e| page(e.into()))?;
    session
        .insert(RETURN_TO, return_to)
        .await
        .map_err(|e| page(e.into()))?;
    Ok(Redirect::to(url.as_str()).into_response())
}

/// `response_mode=query`: the response is in the query string.
pub(crate) async fn callback_query(
    Extension(app): Extension<Arc<Shared>>,
    session: Session,
    RawQuery(query): RawQuery,
) -> Page {
    let result = async {
        let params = CallbackParams::from_query(query.as_deref().unwrap_or(""))?;
        finish_login(&app, &session, params).await
    };
    result.await.map_err(|e| e.with_login_path(&app.login_path))
}

/// `response_mode=form_post`: the response is the form body; see the module docs for the relay.
pub(crate) async fn callback_form_post(
    Extension(app): Extension<Arc<Shared>>,
    session: Session,
    RawQuery(query): RawQuery,
    body: String,
) -> Page {
    let result = async {
        let params = CallbackParams::from_form_post(&body)?;
        if session.id().is_none() {
            if query.as_deref() == Some(RELAYED) {
                return Err(LoginError::cookies_blocked());
            }
            app.relays.fetch_add(1, Ordering::Relaxed);
            tracing::info!("form_post callback without the session cookie: re-submitting it same-site");
            let fields: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect();
            return Ok(pages::relay(&format!("{}?{RELAYED}", app.callback_path), &fields));
        }
        finish_login(&app, &session, params).await
    };
    result.await.map_err(|e| e.with_login_path(&app.login_path))
}

async fn finish_login(app: &Shared, session: &Session, params: CallbackParams) -> Page {
    let Some(saved) = session.get::<SavedPendingCallback>(PENDING).await? else {
        return Err(LoginError::no_pending_login());
    };
    let pending = match PendingCallback::restore_from_trusted_store(app.client.clone(), saved) {
        Ok(pending) => pending,
        Err(error) => {
            forget_pending(session).await?;
            return Err(error.into());
        }
    };
    // A callback whose state, iss or response mode is not this login's was not sent for it (a
    // forged link, another site's request): the pending login stays, so a stranger cannot abort
    // the user's login in progress.
    pending.check_binding(&params)?;
    // From here the pending login answers one callback, whatever its outcome.
    let return_to = session
        .get::<String>(RETURN_TO)
        .await?
        .and_then(|p| checked_return_to(&p).map(str::to_owned))
        .unwrap_or_else(|| app.default_return_to.clone());
    session.remove_value(RETURN_TO).await?;
    forget_pending(session).await?;
    let auth = pending.complete(params).await?;
    let userinfo = if app.userinfo_at_login {
        match auth.userinfo().await {
            Ok(info) => Some(info),
            Err(error) => {
                tracing::warn!(%error, "userinfo after login failed; the id_token's claims remain");
                None
            }
        }
    } else {
        None
    };
    if let Some(previous) = session.get::<SignedIn>(SIGNED_IN).await? {
        app.live.remove(&previous.login_id);
    }
    // Rotate at login: the session id that carried the login in is not the one signed in.
    session.cycle_id().await?;
    let login_id = random_token();
    // Indexed under the id_token's sid and sub, so a back-channel logout can find it.
    app.index
        .add(&login_id, &crate::backchannel::keys_of(&auth.claims()))
        .await
        .map_err(LoginError::index)?;
    // With replicas: the token store holds the newest copy and the refresh lease from now on.
    if let Some(store) = &app.token_store {
        auth.save_to_session_store(store.store.clone(), login_id.clone(), store.lease)
            .await?;
    }
    let tokens = auth.export_with_secrets();
    app.live.adopt(login_id.clone(), auth);
    session
        .insert(
            SIGNED_IN,
            SignedIn {
                login_id,
                tokens,
                userinfo,
            },
        )
        .await?;
    Ok(Redirect::to(&return_to).into_response())
}

/// Removes the pending login and saves at once, so that not even an error page the session
/// middleware does not save after leaves it behind.
async fn forget_pending(session: &Session) -> Result<(), LoginError> {
    session.remove_value(PENDING).await?;
    session.save().await?;
    Ok(())
}

/// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2): revokes the tokens, forgets
/// the local session whatever the provider answers, and sends the browser to the provider's
/// end-session endpoint. POST only, so another site cannot log a user out with an `<img>`.
pub(crate) async fn logout(Extension(app): Extension<Arc<Shared>>, session: Session) -> Page {
    let signed_in = session
        .get::<SignedIn>(SIGNED_IN)
        .await
        .map_err(|e| LoginError::from(e).with_login_path(&app.login_path))?;
    let Some(signed_in) = signed_in else {
        return Ok(Redirect::to(&app.after_logout).into_response());
    };
    let live = app.live.get(&app.client, app.token_store.as_ref(), &signed_in);
    app.live.remove(&signed_in.login_id);
    if let Err(error) = app.index.forget(&signed_in.login_id).await {
        tracing::warn!(%error, "logout: the session index could not forget the login");
    }
    // No copy of the tokens outlives the login in the shared token store either (the live
    // session above is in memory: its revocation below does not need the stored copy).
    if let Some(tokens) = &app.token_store
        && let Err(error) = tokens.store.remove_session(&signed_in.login_id).await
    {
        tracing::warn!(%error, "logout: the token store kept its copy; it expires with its ttl");
    }
    // The local session ends first, so no failure below can leave the user signed in.
    session
        .flush()
        .await
        .map_err(|e| LoginError::from(e).with_login_path(&app.login_path))?;
    let live = match live {
        Ok(live) => live,
        Err(error) => {
            tracing::warn!(%error, "logout: the saved session could not be restored");
            return Ok(Redirect::to(&app.after_logout).into_response());
        }
    };
    if let Err(error) = live.revoke().await {
        tracing::warn!(%error, "logout: revoking the tokens failed; the local session is gone anyway");
    }
    let Some(post_logout) = &app.post_logout_redirect_uri else {
        return Ok(Redirect::to(&app.after_logout).into_response());
    };
    match live.logout_url(post_logout, None) {
        Ok(url) => Ok(Redirect::to(url.as_str()).into_response()),
        Err(error) => {
            tracing::info!(%error, "the provider has no logout endpoint; staying here");
            Ok(Redirect::to(&app.after_logout).into_response())
        }
    }
}
