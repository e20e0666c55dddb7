//! A decision email's "Review and decide" link, received on the SMTP test
//! server: a one-time sign-in link that lands on that decision's page,
//! where the Approve and Deny form is (opening it decides nothing). A
//! login link's `then` is followed only to a console page: an absolute
//! URL, `//host` or a backslash lands on the inbox, and such a link is not
//! even minted.

use crate::common;
use crate::console::{Visitor, token_of};
use common::TestDb;
use common::server::TestHub;
use common::smtp_server::SmtpServer;
use mail_parser::MessageParser;
use serde_json::json;

/// emma approves deploys and is reached by email only.
const EMMA: &str = "[approvers]\n\"deploy\" = [\"emma\"]\n\
    [[people]]\nid = \"emma\"\nrole = \"member\"\nemail = \"emma@example.com\"\npush = [\"email\"]\n";

/// The `then` and `token` of a login link.
fn query_of(link: &str) -> (String, String) {
    let url = reqwest::Url::parse(link).unwrap();
    let get = |k: &str| {
        url.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    (get("then"), get("token"))
}

both_dbs!(
    a_decision_email_links_to_the_decision_page_after_sign_in,
    |db: &TestDb| async move {
        let smtp = SmtpServer::start();
        let hub = TestHub::start(db, &format!("{}{EMMA}", smtp.toml()), vec![]).await;
        let (s, created) = hub
            .post(
                "/api/v1/decisions",
                json!({"kind": "deploy", "context": "Ship v3?\nAll checks green."}),
            )
            .await;
        assert_eq!(s, 201, "{created}");
        let id = created["id"].as_i64().unwrap();

        let raw = smtp.wait_for(1).await.remove(0);
        let mail = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(
            mail.to().and_then(|a| a.first()).and_then(|a| a.address()),
            Some("emma@example.com")
        );
        let text = mail.body_text(0).unwrap();
        let label = "Review and decide: ";
        let at = text
            .find(label)
            .unwrap_or_else(|| panic!("no link in:\n{text}"))
            + label.len();
        let link = text[at..].lines().next().unwrap().trim().to_string();
        assert!(
            link.starts_with(&format!(
                "{}/console/login?then=%2Fconsole%2Fdecisions%2F{id}&token=",
                hub.base
            )),
            "{link}"
        );
        assert!(
            mail.body_html(0)
                .unwrap()
                .contains(">Review and decide</a>"),
            "{}",
            mail.body_html(0).unwrap()
        );
        let (then, token) = query_of(&link);
        assert_eq!(then, format!("/console/decisions/{id}"));
        assert_eq!(token, token_of(&link));
        // Minted as it was sent: no stored row holds it.
        let (held,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM notifications WHERE fields LIKE $1 OR body LIKE $1",
        )
        .bind(format!("%{token}%"))
        .fetch_one(hub.store().pool())
        .await
        .unwrap();
        assert_eq!(held, 0);

        // A mail scanner opens the link: a page with a button, nothing used
        // up, nothing decided.
        let scanner = Visitor::new(&hub);
        let path = link.strip_prefix(&hub.base).unwrap();
        let (s, html) = scanner.get(path).await;
        assert_eq!(s, 200, "{html}");
        assert!(
            html.contains(&format!(r#"name="then" value="/console/decisions/{id}""#))
                || html.contains(&format!(
                    r#"name="then" value="&#x2F;console&#x2F;decisions&#x2F;{id}""#
                )),
            "{html}"
        );
        let (_, d) = hub.get(&format!("/api/v1/decisions/{id}")).await;
        assert_eq!(d["status"], "pending", "{d}");

        // emma signs in with it and lands on the decision's page, which
        // offers Approve and Deny and decides nothing by being opened.
        let mut emma = Visitor::new(&hub);
        let (s, to, cookie) = emma
            .post("/console/login", &[("token", &token), ("then", &then)])
            .await;
        assert_eq!(s, 303);
        assert_eq!(to, format!("/console/decisions/{id}"));
        emma.cookie = Some(cookie.unwrap().split(';').next().unwrap().to_string());
        let (s, html) = emma.get(&to).await;
        assert_eq!(s, 200, "{html}");
        assert!(html.contains("Ship v3?"), "{html}");
        let form = format!(r#"action="/console/decisions/{id}/resolve""#);
        assert!(html.contains(&form), "{html}");
        assert!(html.contains(r#"value="approve""#), "{html}");
        assert!(html.contains(r#"value="deny""#), "{html}");
        let (_, d) = hub.get(&format!("/api/v1/decisions/{id}")).await;
        assert_eq!(d["status"], "pending", "a GET approves nothing: {d}");
        // The link worked once.
        let (s, _, _) = Visitor::new(&hub)
            .post("/console/login", &[("token", &token), ("then", &then)])
            .await;
        assert_eq!(s, 403);
        hub.stop().await;
    }
);

both_dbs!(a_forged_then_is_never_followed, |db: &TestDb| async move {
    let smtp = SmtpServer::start();
    let hub = TestHub::start(db, &format!("{}{EMMA}", smtp.toml()), vec![]).await;
    let links = &hub.running.as_ref().unwrap().state.console.links;
    // Not minted: the hub never makes such a link.
    for bad in [
        "https://evil.example/",
        "//evil.example",
        "/console/../api/v1/keys",
    ] {
        let e = links.mint_to("emma", Some(bad)).await.unwrap_err();
        assert!(
            e.to_string().contains("lands only on a console page"),
            "{e}"
        );
    }
    // Forged onto a real link (in its address or the sign-in form):
    // the page and the sign-in land on the inbox.
    for bad in [
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "/console/decisions/1/resolve",
        "/api/v1/keys",
    ] {
        let link = links.mint("emma").await.unwrap();
        let token = token_of(&link);
        let forged = format!(
            "/console/login?{}&token={token}",
            serde_urlencoded::to_string([("then", bad)]).unwrap()
        );
        let (s, html) = Visitor::new(&hub).get(&forged).await;
        assert_eq!(s, 200, "{html}");
        assert!(
            html.contains(r#"name="then" value="&#x2F;console""#)
                || html.contains(r#"name="then" value="/console""#),
            "{bad}: {html}"
        );
        let (s, to, cookie) = Visitor::new(&hub)
            .post("/console/login", &[("token", &token), ("then", bad)])
            .await;
        assert_eq!(s, 303, "{bad}");
        assert_eq!(to, "/console", "{bad}");
        assert!(cookie.is_some(), "{bad}: signed in all the same");
    }
    hub.stop().await;
});
