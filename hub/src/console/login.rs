//! Signing in with a one-time link, and out. GET /console/login?token=…
//! only shows a button (link scanners in mail systems open links: a GET
//! must not use the link up); its POST redeems the token, once, and lands
//! on the link's `then` when that is a console page (a decision email's
//! link: the decision's page), else on the inbox.

use super::session::{self, Signed};
use super::{ConsoleError, anonymous, secret};
use crate::api::AppState;
use crate::store::now_ms;
use adapters::web::console::Page;
use adapters::web::console::model::LoginView;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct TokenIn {
    token: Option<String>,
    /// The console page to land on after signing in (`next_path`).
    then: Option<String>,
}

/// `then` when it is a console page; else the inbox (a forged one is
/// noted, never followed).
fn landing(then: Option<&str>) -> &str {
    match then.filter(|t| !t.is_empty()) {
        None => "/console",
        Some(t) => super::next_path::accept(t).unwrap_or_else(|| {
            tracing::info!(
                "console: a login link's `then` is not a console page; landing on the inbox"
            );
            "/console"
        }),
    }
}

pub async fn page(
    State(state): State<AppState>,
    Query(q): Query<TokenIn>,
) -> Result<Response, ConsoleError> {
    let Some(token) = q.token else {
        return Ok(signed_out_page(&state));
    };
    if !valid_token(&token) {
        return Err(refused());
    }
    let html = state
        .console
        .render
        .render(
            Page::Login,
            &anonymous("Sign in"),
            &LoginView {
                token,
                then: landing(q.then.as_deref()).to_string(),
            },
        )
        .map_err(|e| {
            tracing::error!(error = %e, "console: login page does not render");
            ConsoleError::Internal
        })?;
    let mut res = Html(html).into_response();
    // The token is in this page's address: keep it out of Referer headers.
    res.headers_mut()
        .insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    Ok(res)
}

pub async fn sign_in(
    State(state): State<AppState>,
    Form(form): Form<TokenIn>,
) -> Result<Response, ConsoleError> {
    let token = form.token.filter(|t| valid_token(t)).ok_or_else(refused)?;
    let to = HeaderValue::from_str(landing(form.then.as_deref()))
        .unwrap_or(HeaderValue::from_static("/console"));
    let session_id = secret::new_secret();
    let csrf = secret::new_secret();
    let result = state
        .store
        .redeem_login_link(
            &secret::hash(&token),
            &secret::hash(&session_id),
            &csrf,
            now_ms() + state.console.session_ms,
        )
        .await
        .map_err(ConsoleError::store)?;
    match result {
        Ok(person) => {
            tracing::info!(person = %person, "console: signed in with a login link");
            let mut headers = HeaderMap::new();
            session::set_cookie(
                &mut headers,
                session::cookie(
                    &session_id,
                    state.console.session_ms / 1000,
                    state.console.secure,
                ),
            );
            headers.insert(LOCATION, to);
            Ok((StatusCode::SEE_OTHER, headers).into_response())
        }
        Err(why) => {
            // Which of the reasons, for whoever reads the log; never the token.
            tracing::info!(reason = ?why, "console: login link refused");
            Err(refused())
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfIn {
    csrf: Option<String>,
}

pub async fn sign_out(
    State(state): State<AppState>,
    who: Signed,
    Form(form): Form<CsrfIn>,
) -> Result<Response, ConsoleError> {
    who.check_csrf(form.csrf.as_deref())?;
    state
        .store
        .revoke_console_session(&who.id_hash)
        .await
        .map_err(ConsoleError::store)?;
    let mut headers = HeaderMap::new();
    session::set_cookie(&mut headers, session::cookie("", 0, state.console.secure));
    headers.insert(LOCATION, HeaderValue::from_static("/console/login"));
    Ok((StatusCode::SEE_OTHER, headers).into_response())
}

/// Where logout lands: how to come back.
fn signed_out_page(state: &AppState) -> Response {
    let view = adapters::web::console::model::MessageView {
        heading: "Signed out".into(),
        text: "Send /login to the orkhub bot in your chat for a link to sign in.".into(),
    };
    match state
        .console
        .render
        .render(Page::Message, &anonymous("Signed out"), &view)
    {
        Ok(html) => Html(html).into_response(),
        Err(_) => view.text.into_response(),
    }
}

/// The same answer for an unknown, used, expired or malformed link.
fn refused() -> ConsoleError {
    ConsoleError::Forbidden(
        "This login link is not valid: it was used already, it expired, or it was never issued. Send /login to the orkhub bot for a new one.".into(),
    )
}

fn valid_token(t: &str) -> bool {
    t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())
}
