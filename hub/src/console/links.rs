//! Minting one-time login links: for `orkhub login-link`, the `/login`
//! chat command and the links in emails (a decision email's lands on that
//! decision's page: `then`, see `next_path`). The token appears only in
//! the link handed to the person; the store keeps its hash.

use super::secret;
use crate::directory::Directory;
use crate::store::{Store, StoreError, now_ms};
use adapters::sign_in::Landing;
use async_trait::async_trait;
use routing::ChannelKind;
use std::sync::{Arc, OnceLock};

pub struct LoginLinks {
    store: Store,
    /// `adapters.web.public_url`, or set at start from the bound address.
    base: OnceLock<String>,
    ttl_ms: i64,
}

impl LoginLinks {
    pub fn new(store: Store, public_url: &str, link_minutes: u32) -> LoginLinks {
        let base = OnceLock::new();
        let url = public_url.trim().trim_end_matches('/');
        if !url.is_empty() {
            let _ = base.set(url.to_string());
        }
        LoginLinks {
            store,
            base,
            ttl_ms: i64::from(link_minutes) * 60_000,
        }
    }

    /// Without a public URL, links point at the address the hub listens on.
    pub fn default_base(&self, base: String) {
        let _ = self.base.set(base);
    }

    pub fn base(&self) -> &str {
        self.base.get().map(String::as_str).unwrap_or("")
    }

    /// A new link for `person_id`. NotFound if the person is not (or no
    /// longer) in the config.
    pub async fn mint(&self, person_id: &str) -> Result<String, StoreError> {
        self.mint_to(person_id, None).await
    }

    /// A new link for `person_id` that lands on the console page `then`
    /// after signing in (a decision's page, say). A `then` that is not a
    /// console page is refused here, before anything is written.
    pub async fn mint_to(&self, person_id: &str, then: Option<&str>) -> Result<String, StoreError> {
        let then = match then {
            None => String::new(),
            Some(t) => {
                let page = super::next_path::accept(t).ok_or_else(|| {
                    StoreError::Invalid(format!(
                        "then = {t:?}: a login link lands only on a console page, such as /console/decisions/42"
                    ))
                })?;
                // Before the token, so the token stays the link's last part.
                let mut q = form_urlencoded_pair("then", page);
                q.push('&');
                q
            }
        };
        let token = secret::new_secret();
        self.store
            .insert_login_link(&secret::hash(&token), person_id, now_ms() + self.ttl_ms)
            .await?;
        Ok(format!("{}/console/login?{then}token={token}", self.base()))
    }
}

fn form_urlencoded_pair(key: &str, value: &str) -> String {
    serde_urlencoded::to_string([(key, value)]).unwrap_or_default()
}

/// The links platforms put in what they send (the email digest's "Open in
/// orkhub"): for the person the address belongs to, minted at send time.
pub struct SentLinks {
    links: Arc<LoginLinks>,
    dir: Arc<Directory>,
}

impl SentLinks {
    /// `links` mints with the emailed links' lifetime.
    pub fn new(links: Arc<LoginLinks>, dir: Arc<Directory>) -> SentLinks {
        SentLinks { links, dir }
    }
}

#[async_trait]
impl adapters::sign_in::SignInLinks for SentLinks {
    async fn link(
        &self,
        channel: ChannelKind,
        address: &str,
        landing: Landing,
    ) -> Result<Option<String>, String> {
        let Some(person) = self
            .dir
            .people()
            .find(|p| p.address(channel).as_deref() == Some(address))
        else {
            return Ok(None);
        };
        let then = match landing {
            Landing::Inbox => None,
            Landing::Decision(id) => Some(format!("/console/decisions/{id}")),
        };
        match self.links.mint_to(&person.id, then.as_deref()).await {
            Ok(link) => Ok(Some(link)),
            // Removed from the config since: no link, like any stranger.
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(format!("minting a sign-in link: {e}")),
        }
    }
}
