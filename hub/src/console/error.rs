//! What a console request can fail with: an HTML page with the status that
//! says it (a refused POST is 403 whatever the reason, so a forged request
//! learns nothing more).

use adapters::web::console::model::MessageView;
use adapters::web::console::{ConsoleRenderer, Page};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use commands::ServiceError;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error(
        "You are not signed in (or your session ended). Send /login to the orkhub bot in your chat for a new link."
    )]
    SignedOut,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("The database is unavailable; nothing was changed. Try again shortly.")]
    Unavailable,
    #[error("Something went wrong on the hub; it was logged.")]
    Internal,
}

impl ConsoleError {
    /// A store failure: logged once here, the page says only what to do.
    pub fn store(e: crate::store::StoreError) -> ConsoleError {
        if e.is_unavailable() {
            ConsoleError::Unavailable
        } else {
            tracing::error!(error = %e, "console: store error");
            ConsoleError::Internal
        }
    }

    pub fn backend(e: commands::BackendError) -> ConsoleError {
        ConsoleError::service(ServiceError::Backend(e))
    }

    /// A refusal of the command layer, with its own message.
    pub fn service(e: ServiceError) -> ConsoleError {
        match e.http_status() {
            403 => ConsoleError::Forbidden(e.to_string()),
            404 => ConsoleError::NotFound(e.to_string()),
            409 => ConsoleError::Conflict(e.to_string()),
            503 => ConsoleError::Unavailable,
            400 | 422 => ConsoleError::BadRequest(e.to_string()),
            _ => {
                tracing::error!(error = %e, "console: command failed");
                ConsoleError::Internal
            }
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ConsoleError::SignedOut => StatusCode::UNAUTHORIZED,
            ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Conflict(_) => StatusCode::CONFLICT,
            ConsoleError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ConsoleError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let status = self.status();
        let heading = match self {
            ConsoleError::SignedOut => "Signed out",
            ConsoleError::Forbidden(_) => "Not allowed",
            ConsoleError::NotFound(_) => "Not found",
            ConsoleError::BadRequest(_) => "Cannot do that",
            ConsoleError::Conflict(_) => "Already changed",
            ConsoleError::Unavailable => "Unavailable",
            ConsoleError::Internal => "Error",
        };
        let view = MessageView {
            heading: heading.to_string(),
            text: self.to_string(),
        };
        // Built-in templates: an error page must not depend on an edited file.
        match ConsoleRenderer::default().render(Page::Message, &super::anonymous(heading), &view) {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, view.text).into_response(),
        }
    }
}
