//! Which URLs a webhook may call. A webhook created over the API names a URL
//! the hub will POST to from inside the network it runs in: without a check,
//! anyone with the `webhooks:admin` scope could make the hub call its own
//! admin ports, a cloud metadata service (169.254.169.254) or the private
//! network (server-side request forgery). So loopback, link-local, private,
//! shared (CGNAT), multicast, broadcast and unspecified addresses are
//! refused unless the operator allows them; a host name is resolved and
//! every address it has must pass. The same check runs again at every
//! connection (see `send.rs`'s resolver), so a name that later resolves
//! elsewhere (DNS rebinding) is refused then too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("url: {0:?} is not a URL: {1}")]
    Syntax(String, String),
    #[error("url: {0:?} must start with http:// or https://")]
    Scheme(String),
    #[error("url: {0:?} has no host")]
    NoHost(String),
    #[error(
        "url: {url:?} resolves to {ip}, a {why} address; webhooks may not call the hub's own network (set webhook_sender.allow_private_targets = true to allow it)"
    )]
    Forbidden {
        url: String,
        ip: IpAddr,
        why: &'static str,
    },
    #[error("url: the host of {url:?} cannot be resolved: {reason}")]
    Resolve { url: String, reason: String },
}

/// Why `ip` may not be called, or `None` when it is a public address.
pub fn forbidden_ip(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            forbidden_v6(v6)
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT)")
    } else if ip.is_broadcast() || ip.is_multicast() {
        Some("broadcast or multicast")
    } else {
        None
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if first & 0xfe00 == 0xfc00 {
        Some("private (unique local)")
    } else if ip.is_multicast() {
        Some("multicast")
    } else {
        None
    }
}

/// Parse `raw` as a webhook URL (http or https, with a host).
pub fn parse_target(raw: &str) -> Result<Url, TargetError> {
    let url = Url::parse(raw).map_err(|e| TargetError::Syntax(raw.into(), e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TargetError::Scheme(raw.into()));
    }
    if url.host().is_none() {
        return Err(TargetError::NoHost(raw.into()));
    }
    Ok(url)
}

/// Check `raw` before it is stored: its syntax and, unless `allow_private`,
/// every address its host has now.
pub async fn check_target(raw: &str, allow_private: bool) -> Result<Url, TargetError> {
    let url = parse_target(raw)?;
    if allow_private {
        return Ok(url);
    }
    let refuse = |ip: IpAddr| {
        forbidden_ip(ip).map(|why| TargetError::Forbidden {
            url: raw.into(),
            ip,
            why,
        })
    };
    let port = url.port_or_known_default().unwrap_or(443);
    let ips: Vec<IpAddr> = match url.host() {
        Some(Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
        Some(Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
        Some(Host::Domain(name)) => tokio::net::lookup_host((name, port))
            .await
            .map_err(|e| TargetError::Resolve {
                url: raw.into(),
                reason: e.to_string(),
            })?
            .map(|a| a.ip())
            .collect(),
        None => return Err(TargetError::NoHost(raw.into())),
    };
    match ips.into_iter().find_map(refuse) {
        Some(e) => Err(e),
        None => Ok(url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hubs_own_networks_are_refused_and_public_ones_pass() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(forbidden_ip(ip.parse().unwrap()).is_some(), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700::1111", "172.32.0.1"] {
            assert_eq!(forbidden_ip(ip.parse().unwrap()), None, "{ip}");
        }
    }

    #[tokio::test]
    async fn names_are_resolved_and_every_address_checked() {
        let e = check_target("http://localhost:9/hook", false)
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                TargetError::Forbidden {
                    why: "loopback",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("allow_private_targets"));
        let e = check_target("http://[::1]/", false).await.unwrap_err();
        assert!(matches!(e, TargetError::Forbidden { .. }), "{e}");
        assert!(check_target("http://127.0.0.1:9/", true).await.is_ok());
        assert!(matches!(
            check_target("ftp://example.com/", true).await,
            Err(TargetError::Scheme(_))
        ));
        assert!(matches!(
            check_target("not a url", true).await,
            Err(TargetError::Syntax(..))
        ));
    }
}
