//! The web console's HTML: each page is a handlebars template under
//! `templates/web/` (an edited copy there wins; the built-in copy is used
//! otherwise, as for every adapter), rendered into the shared layout with
//! HTML escaping. The hub hands over [`model`] values; no SQL, no routing
//! here. The stylesheet and the few lines of live-update script are
//! served by the hub from [`STYLE`] and [`LIVE_JS`] (no CDN: the hub
//! works offline).

pub mod model;

use crate::template::{Mode, TemplateError, TemplateFile, Templates};
use model::Chrome;
use serde::Serialize;
use std::path::PathBuf;

/// The one stylesheet (small, responsive, no web fonts).
pub const STYLE: &str = include_str!("../../../../templates/web/console.css");
/// The live inbox: an EventSource on the person's feed; the rest of the
/// console works without JavaScript.
pub const LIVE_JS: &str = include_str!("../../../../templates/web/live.js");

/// The console's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Inbox,
    Decisions,
    DecisionConfirm,
    Notification,
    Tasks,
    Brief,
    Costs,
    Agents,
    Login,
    Message,
}

macro_rules! page_file {
    ($path:literal) => {
        TemplateFile {
            path: concat!("web/", $path),
            legacy: None,
            builtin: include_str!(concat!("../../../../templates/web/", $path)),
        }
    };
}

const LAYOUT: TemplateFile = page_file!("layout.html.hbs");

impl Page {
    fn file(self) -> TemplateFile {
        match self {
            Page::Inbox => page_file!("inbox.html.hbs"),
            Page::Decisions => page_file!("decisions.html.hbs"),
            Page::DecisionConfirm => page_file!("decision_confirm.html.hbs"),
            Page::Notification => page_file!("notification.html.hbs"),
            Page::Tasks => page_file!("tasks.html.hbs"),
            Page::Brief => page_file!("brief.html.hbs"),
            Page::Costs => page_file!("costs.html.hbs"),
            Page::Agents => page_file!("agents.html.hbs"),
            Page::Login => page_file!("login.html.hbs"),
            Page::Message => page_file!("message.html.hbs"),
        }
    }
}

/// The one escaper of the console: HTML entities, safe in element content
/// and in quoted attributes.
pub fn escape(s: &str) -> String {
    handlebars::html_escape(s)
}

#[derive(Serialize)]
struct PageCtx<'a, C: Serialize> {
    chrome: &'a Chrome,
    page: &'a C,
}

#[derive(Serialize)]
struct LayoutCtx<'a> {
    chrome: &'a Chrome,
    content: &'a str,
}

/// Renders console pages from a templates directory (None: built-ins).
#[derive(Debug, Clone, Default)]
pub struct ConsoleRenderer {
    templates: Templates,
}

impl ConsoleRenderer {
    pub fn new(templates_dir: Option<PathBuf>) -> ConsoleRenderer {
        ConsoleRenderer {
            templates: Templates::new(templates_dir),
        }
    }

    /// A whole HTML document: `page` with `ctx`, inside the layout. An
    /// edited template that fails gives way to the built-in one (logged).
    pub fn render<C: Serialize>(
        &self,
        page: Page,
        chrome: &Chrome,
        ctx: &C,
    ) -> Result<String, TemplateError> {
        let content = self.templates.render(
            &page.file(),
            escape,
            &PageCtx { chrome, page: ctx },
            Mode::Send,
            Ok,
        )?;
        self.templates.render(
            &LAYOUT,
            escape,
            &LayoutCtx {
                chrome,
                content: &content,
            },
            Mode::Send,
            Ok,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::model::*;
    use super::*;

    fn chrome(role: &str, can_decide: bool) -> Chrome {
        Chrome {
            title: "Decisions".into(),
            active: "decisions".into(),
            person: Some(PersonView {
                id: "ana".into(),
                name: "Ana <x>".into(),
                role: role.into(),
                can_decide,
                is_admin: false,
            }),
            csrf: "c5rf".into(),
            unread: 2,
        }
    }

    fn decision(can_decide: bool) -> DecisionEntry {
        DecisionEntry {
            id: 7,
            kind: "deploy".into(),
            title: "Ship <b>it</b>".into(),
            body: "body & more".into(),
            requested_by: "builder".into(),
            status: "pending".into(),
            decided_by: String::new(),
            reasoning: String::new(),
            at: "2026-12-04 09:00 UTC".into(),
            can_decide,
        }
    }

    #[test]
    fn every_page_renders_escaped_with_its_forms_carrying_the_csrf_token() {
        let r = ConsoleRenderer::default();
        let view = DecisionsView {
            pending: vec![decision(true)],
            recent: vec![],
            notice: String::new(),
            questions: vec![],
        };
        let html = r
            .render(Page::Decisions, &chrome("member", true), &view)
            .unwrap();
        assert!(html.starts_with("<!doctype html>"), "{html}");
        assert!(html.contains("Ship &lt;b&gt;it&lt;/b&gt;"), "{html}");
        assert!(html.contains("Ana &lt;x&gt;"));
        assert!(!html.contains("<b>it"));
        assert!(html.contains(r#"name="csrf" value="c5rf""#), "{html}");
        assert!(html.contains("/console/decisions/7/resolve"));
        // A person who may not decide sees no buttons.
        let view = DecisionsView {
            pending: vec![decision(false)],
            recent: vec![],
            notice: String::new(),
            questions: vec![],
        };
        let html = r
            .render(Page::Decisions, &chrome("viewer", false), &view)
            .unwrap();
        assert!(!html.contains("/console/decisions/7/resolve"), "{html}");
        assert!(html.contains("Ship &lt;b&gt;it"));
    }

    #[test]
    fn the_other_pages_render() {
        let r = ConsoleRenderer::default();
        let c = chrome("admin", true);
        r.render(
            Page::Inbox,
            &c,
            &InboxView {
                items: vec![InboxEntry {
                    id: "n_1".into(),
                    urgency: "fyi".into(),
                    kind: "note".into(),
                    source: "builder".into(),
                    title: "T".into(),
                    body: "B".into(),
                    at: "now".into(),
                    unread: true,
                    decision_id: None,
                }],
                read_at: String::new(),
            },
        )
        .unwrap();
        r.render(
            Page::Message,
            &c,
            &MessageView {
                heading: "h".into(),
                text: "t".into(),
            },
        )
        .unwrap();
        r.render(
            Page::Login,
            &c,
            &LoginView {
                token: "t".into(),
                then: String::new(),
            },
        )
        .unwrap();
        r.render(
            Page::DecisionConfirm,
            &c,
            &DecisionConfirm {
                decision: decision(true),
                action: "approve".into(),
            },
        )
        .unwrap();
        r.render(
            Page::Notification,
            &c,
            &NotificationView {
                id: "n_1".into(),
                urgency: "urgent".into(),
                kind: "k".into(),
                source: "s".into(),
                title: "t".into(),
                body: "b".into(),
                at: "a".into(),
                deliveries: vec![DeliveryEntry {
                    id: "d_1".into(),
                    channel: "telegram".into(),
                    address: "1".into(),
                    op: "send".into(),
                    status: "dead".into(),
                    attempts: 3,
                    last_error: "403".into(),
                    platform_message_id: String::new(),
                    sent_at: String::new(),
                    can_retry: true,
                }],
                notice: String::new(),
            },
        )
        .unwrap();
        r.render(
            Page::Tasks,
            &c,
            &TasksView {
                columns: vec![TaskColumn {
                    status: "todo".into(),
                    total: 30,
                    more: "/console/tasks?status=todo&before=1".into(),
                    tasks: vec![TaskCard {
                        id: 1,
                        title: "t".into(),
                        priority: "high".into(),
                        assignee: "ana".into(),
                        project: "web".into(),
                        due: String::new(),
                        moves: vec!["start".into()],
                        needs: vec![TaskRef { id: 2, done: false }],
                        blocks: vec![3],
                        can_edit_deps: true,
                    }],
                }],
                project: String::new(),
                assignee: String::new(),
                projects: vec!["web".into()],
                can_create: true,
                notice: String::new(),
                single: false,
                board: "/console/tasks?".into(),
            },
        )
        .unwrap();
        r.render(
            Page::Brief,
            &c,
            &BriefView {
                date: "2026-12-04".into(),
                title: "Brief".into(),
                sections: vec![BriefSection {
                    heading: "h".into(),
                    lines: vec!["l".into()],
                }],
                error: String::new(),
            },
        )
        .unwrap();
        r.render(
            Page::Costs,
            &c,
            &CostsView {
                today: vec![CostRow {
                    name: "a".into(),
                    spent: "$1.00".into(),
                    budget: "$2.00".into(),
                    forecast: "$3.00".into(),
                    over: true,
                }],
                month: vec![],
                by_project: vec![],
            },
        )
        .unwrap();
        r.render(
            Page::Agents,
            &c,
            &AgentsView {
                agents: vec![AgentRow {
                    id: "a".into(),
                    status: "active".into(),
                    last_heartbeat: "now".into(),
                    active_tasks: 1,
                    completed: 2,
                    failed: 0,
                }],
            },
        )
        .unwrap();
    }
}
