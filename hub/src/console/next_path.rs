//! Where a sign-in link lands (`then`): only a page the console serves,
//! as a path on this hub. Anything else — an absolute URL, `//host`, a
//! backslash (browsers read `/\host` as `//host`), an encoded character in
//! the path, a page the console does not have — is not followed: the
//! person lands on the inbox instead. A login link must never send its
//! reader elsewhere (an open redirect would lend the hub's name to a
//! phishing page).

/// The console's GET pages a link may land on: exact paths, and prefixes
/// followed by one ID.
const PAGES: &[&str] = &[
    "/console",
    "/console/decisions",
    "/console/tasks",
    "/console/brief",
    "/console/costs",
    "/console/agents",
];
const WITH_ID: &[&str] = &["/console/decisions/", "/console/notifications/"];

/// `then` as given, when it is a console page to land on; None otherwise.
pub fn accept(then: &str) -> Option<&str> {
    if then.len() > 512 {
        return None;
    }
    let (path, query) = match then.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (then, None),
    };
    let page = PAGES.contains(&path)
        || WITH_ID.iter().any(|prefix| {
            path.strip_prefix(prefix).is_some_and(|id| {
                !id.is_empty()
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            })
        });
    // A query of plain words only (`action=approve`, `date=2026-12-04`):
    // nothing that could end the attribute or the header it is put in.
    let query_ok = query.is_none_or(|q| {
        q.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"=&_-.".contains(&b))
    });
    (page && query_ok).then_some(then)
}

#[cfg(test)]
mod tests {
    use super::accept;

    #[test]
    fn console_pages_are_accepted() {
        for ok in [
            "/console",
            "/console/decisions/42",
            "/console/decisions/42?action=deny",
            "/console/notifications/n_01HX",
            "/console/brief?date=2026-12-04",
            "/console/tasks?project=web&status=ready",
        ] {
            assert_eq!(accept(ok), Some(ok), "{ok}");
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "https://evil.example/console",
            "//evil.example/console",
            "/\\evil.example",
            "/console\\..\\x",
            "/console/../api/v1/keys",
            "/console/decisions/42/resolve",
            "/console/decisions/",
            "/console/decisions/4%2F2",
            "/console/login?token=x",
            "/console/logout",
            "/consolex",
            "/console/decisions/42?x=<script>",
            "/console?next=//evil",
            "/console\r\nSet-Cookie: a=b",
            "javascript:alert(1)",
            "console",
            "/api/v1/events",
        ] {
            assert_eq!(accept(bad), None, "{bad:?}");
        }
        assert_eq!(
            accept(&format!("/console/decisions/{}", "1".repeat(600))),
            None
        );
    }
}
