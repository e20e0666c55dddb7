//! Who is signed in: the session cookie, checked against the store on
//! every request (so logout, expiry and removal from the config take
//! effect at once), and the CSRF token every POST must carry.

use super::{ConsoleError, secret};
use crate::api::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use commands::{Backend, Person};

/// The session cookie's name. Scoped to /console.
pub const COOKIE_NAME: &str = "orkhub_session";

/// A signed-in person and their session.
#[derive(Debug, Clone)]
pub struct Signed {
    pub person: Person,
    pub csrf: String,
    /// The stored hash of the session ID (for logout).
    pub id_hash: String,
}

impl Signed {
    /// Refuse a POST whose form lacks this session's CSRF token.
    pub fn check_csrf(&self, presented: Option<&str>) -> Result<(), ConsoleError> {
        match presented {
            Some(t) if secret::same(t, &self.csrf) => Ok(()),
            _ => Err(ConsoleError::Forbidden(
                "This form is missing its security token (or it is from an older session). Reload the page and try again.".into(),
            )),
        }
    }
}

/// The session ID from the request's cookies, if any.
pub fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE_NAME)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

/// The Set-Cookie header that starts a session (or, with `max_age_secs`
/// 0 and an empty ID, ends it).
pub fn cookie(id: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = format!(
        "{COOKIE_NAME}={id}; Path=/console; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    );
    // Only hex and fixed text: always a valid header value.
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(""))
}

pub fn set_cookie(headers: &mut HeaderMap, value: HeaderValue) {
    headers.insert(SET_COOKIE, value);
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let id = session_id(&parts.headers).ok_or(ConsoleError::SignedOut)?;
        let id_hash = secret::hash(&id);
        let session = state
            .store
            .console_session(&id_hash)
            .await
            .map_err(ConsoleError::store)?
            .ok_or(ConsoleError::SignedOut)?;
        let person = state
            .backend
            .person(&session.person_id)
            .await
            .map_err(ConsoleError::backend)?
            .ok_or(ConsoleError::SignedOut)?;
        Ok(Signed {
            person,
            csrf: session.csrf,
            id_hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others_and_set_safely() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; orkhub_session=abc; b=2"),
        );
        assert_eq!(session_id(&h).as_deref(), Some("abc"));
        h.insert(COOKIE, HeaderValue::from_static("orkhub_session="));
        assert_eq!(session_id(&h), None);
        let c = cookie("abc", 60, true);
        let c = c.to_str().unwrap();
        for part in [
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/console",
            "Max-Age=60",
        ] {
            assert!(c.contains(part), "{c}");
        }
        assert!(
            !cookie("abc", 60, false)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
    }
}
