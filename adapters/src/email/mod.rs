//! The email adapter: every message is one multipart email (plain text +
//! HTML) rendered from editable templates and sent over SMTP (lettre).
//! Emails cannot be changed once sent, so an "edit" (a decision resolved,
//! say) goes out as a follow-up email threaded under the original.

pub mod brief;
pub mod config;
pub mod limits;
mod platform;
pub mod render;
pub mod send;

pub use config::{EmailConfig, EmailConfigError, TlsMode};
pub use platform::EmailPlatform;
pub use render::{Parts, Templates};
pub use send::{MailTransport, Smtp};

use crate::sign_in::{Landing, SignInLinks};
use crate::{Adapter, Destination, SendError, Sent};
use async_trait::async_trait;
use lettre::message::Mailbox;
use neutral::RichMessage;
use routing::ChannelKind;
use std::sync::Arc;

pub struct EmailAdapter {
    from: Mailbox,
    /// Messages' and digests' templates (`adapters.email.templates_dir`).
    templates: Templates,
    /// Briefs' templates (`[brief] templates_dir`), read at every send.
    briefs: crate::template::Templates,
    /// Sign-in links for digests and decision requests (the web
    /// console's), minted at send time.
    sign_in: Option<Arc<dyn SignInLinks>>,
    transport: Arc<dyn MailTransport>,
}

impl EmailAdapter {
    /// The adapter for `cfg`, over real SMTP. Fails on a setting that cannot
    /// work, naming its key.
    pub fn from_config(cfg: &EmailConfig) -> Result<EmailAdapter, EmailConfigError> {
        cfg.validate()?;
        Ok(EmailAdapter {
            from: cfg.from_mailbox()?,
            templates: Templates::from_dir(&cfg.templates_dir),
            briefs: crate::template::Templates::default(),
            sign_in: None,
            transport: Arc::new(Smtp::from_config(cfg)?),
        })
    }

    /// Render briefs from `templates` (read at every send) instead of the
    /// built-in copies only.
    pub fn with_templates(mut self, templates: crate::template::Templates) -> Self {
        self.briefs = templates;
        self
    }

    /// Put a one-time sign-in link in each person's digest ("Open in
    /// orkhub") and decision request ("Review and decide", landing on the
    /// decision's page), minted from `links` as it is sent.
    pub fn with_sign_in(mut self, links: Option<Arc<dyn SignInLinks>>) -> Self {
        self.sign_in = links;
        self
    }

    /// A sign-in link for a digest or a decision request to a person, when
    /// there can be one. The email without it beats no email: a failure is
    /// logged (never the link) and the email goes out without.
    async fn sign_in_link(&self, to: &Destination, message: &RichMessage) -> Option<String> {
        let links = self.sign_in.as_ref()?;
        if !to.to_person {
            return None;
        }
        let landing = match (&message.document, to.decision) {
            (Some(neutral::Document::Digest(_)), _) => Landing::Inbox,
            (None, Some(id)) => Landing::Decision(id),
            _ => return None,
        };
        match links.link(ChannelKind::Email, &to.address, landing).await {
            Ok(link) => link,
            Err(e) => {
                tracing::warn!(error = %e, "email: sent without its sign-in link");
                None
            }
        }
    }

    /// The adapter over any transport (tests, other relays).
    pub fn with_transport(
        from: Mailbox,
        templates: Templates,
        transport: Arc<dyn MailTransport>,
    ) -> EmailAdapter {
        EmailAdapter {
            from,
            templates,
            briefs: crate::template::Templates::default(),
            sign_in: None,
            transport,
        }
    }

    async fn send_parts(
        &self,
        to: &Destination,
        parts: &Parts,
        in_reply_to: Option<&str>,
    ) -> Result<String, SendError> {
        let id = send::new_message_id(&self.from);
        let message = send::build(&self.from, &to.address, parts, &id, in_reply_to)?;
        self.transport.deliver(message).await?;
        Ok(id)
    }

    fn parts(&self, message: &RichMessage, sign_in: Option<&str>) -> Result<Parts, SendError> {
        // Only a broken built-in template gets here; retrying cannot fix it.
        self.templates
            .email(message, &self.briefs, sign_in)
            .map_err(|e| SendError::permanent(e.to_string()))
    }
}

#[async_trait]
impl Adapter for EmailAdapter {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Email
    }

    async fn send(&self, to: &Destination, message: &RichMessage) -> Result<Sent, SendError> {
        let link = self.sign_in_link(to, message).await;
        let parts = self.parts(message, link.as_deref())?;
        // A follow-up is threaded under the email it answers (its Message-ID).
        let id = self.send_parts(to, &parts, to.thread.as_deref()).await?;
        Ok(Sent {
            platform_message_id: Some(id),
        })
    }

    /// A sent email cannot be changed: send the new content as "Update: …",
    /// threaded under the original (In-Reply-To / References its Message-ID).
    async fn edit(
        &self,
        to: &Destination,
        platform_message_id: &str,
        message: &RichMessage,
    ) -> Result<(), SendError> {
        let mut parts = self.parts(message, None)?;
        parts.subject = limits::subject(Some(&format!("Update: {}", parts.subject)), "");
        self.send_parts(to, &parts, Some(platform_message_id))
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records what would have been sent, as raw MIME.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    #[async_trait]
    impl MailTransport for Recorder {
        async fn deliver(&self, message: lettre::Message) -> Result<(), SendError> {
            let raw = String::from_utf8_lossy(&message.formatted()).into_owned();
            self.0.lock().unwrap().push(raw);
            Ok(())
        }
    }

    /// An adapter whose mail goes to a [`Recorder`].
    fn recording_adapter() -> (EmailAdapter, Arc<Recorder>) {
        let rec = Arc::new(Recorder::default());
        let a = EmailAdapter::with_transport(
            "hub@example.com".parse().unwrap(),
            Templates::embedded(),
            rec.clone(),
        );
        (a, rec)
    }

    #[tokio::test]
    async fn edit_sends_a_threaded_update_email() {
        let (a, rec) = recording_adapter();
        let to = Destination::to("ceo@example.com");
        let sent = a
            .send(&to, &RichMessage::titled("Ship v2?", "pending"))
            .await
            .unwrap();
        let original = sent.platform_message_id.unwrap();
        a.edit(
            &to,
            &original,
            &RichMessage::titled("Ship v2?", "approved by ceo"),
        )
        .await
        .unwrap();
        let mails = rec.0.lock().unwrap().clone();
        assert_eq!(mails.len(), 2);
        assert!(mails[0].contains(&format!("Message-ID: {original}")));
        assert!(
            mails[1].contains("Subject: Update: Ship v2?"),
            "{}",
            mails[1]
        );
        assert!(
            mails[1].contains(&format!("In-Reply-To: {original}")),
            "{}",
            mails[1]
        );
        assert!(mails[1].contains("approved by ceo"));
        assert!(!mails[1].contains(&format!("Message-ID: {original}")));
    }

    #[tokio::test]
    async fn a_follow_up_is_threaded_under_the_email_it_answers() {
        let (a, rec) = recording_adapter();
        let to = Destination::to("ceo@example.com");
        let first = a
            .send(&to, &RichMessage::titled("Deploy", "started"))
            .await
            .unwrap()
            .platform_message_id
            .unwrap();
        let reply = Destination {
            thread: Some(first.clone()),
            ..to.clone()
        };
        a.send(&reply, &RichMessage::titled("Deploy", "finished"))
            .await
            .unwrap();
        let mails = rec.0.lock().unwrap().clone();
        assert!(!mails[0].contains("In-Reply-To"), "{}", mails[0]);
        assert!(
            mails[1].contains(&format!("In-Reply-To: {first}")),
            "{}",
            mails[1]
        );
    }
}
