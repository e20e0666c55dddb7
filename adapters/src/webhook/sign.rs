//! Signing: `X-Orkhub-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>">`. The timestamp is inside the signed text, so a receiver
//! that refuses old timestamps also refuses replays of old calls (the same
//! scheme as Stripe's `Stripe-Signature`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "X-Orkhub-Signature";
pub const EVENT_ID_HEADER: &str = "X-Orkhub-Event-Id";

/// The MAC of `t.body` under `secret`.
fn mac(secret: &[u8], unix: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length: new_from_slice cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(unix.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value for `body` sent at `unix` (seconds).
pub fn signature_header(secret: &[u8], unix: i64, body: &[u8]) -> String {
    let tag = mac(secret, unix, body).finalize().into_bytes();
    format!("t={unix},v1={}", hex::encode(tag))
}

/// Check a signature header as a receiver would: the MAC (constant time)
/// and the timestamp within `tolerance_secs` of `now`. For the tests and
/// for anyone embedding a receiver in Rust.
pub fn verify_signature(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> bool {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (now - t).abs() > tolerance_secs {
        return false;
    }
    v1.iter()
        .any(|tag| mac(secret, t, body).verify_slice(tag).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_secret_body_and_time() {
        let h = signature_header(b"s3cret", 1_700_000_000, b"{\"a\":1}");
        assert!(h.starts_with("t=1700000000,v1="));
        assert!(verify_signature(
            b"s3cret",
            &h,
            b"{\"a\":1}",
            1_700_000_010,
            300
        ));
        assert!(!verify_signature(
            b"other",
            &h,
            b"{\"a\":1}",
            1_700_000_010,
            300
        ));
        assert!(!verify_signature(
            b"s3cret",
            &h,
            b"{\"a\":2}",
            1_700_000_010,
            300
        ));
        // Replayed ten minutes later: refused by the timestamp.
        assert!(!verify_signature(
            b"s3cret",
            &h,
            b"{\"a\":1}",
            1_700_000_600,
            300
        ));
    }

    #[test]
    fn the_tag_is_hmac_sha256_of_t_dot_body() {
        // RFC 4231-independent check: recompute with the hmac crate directly.
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(b"k").unwrap();
        m.update(b"12.body");
        let want = hex::encode(m.finalize().into_bytes());
        assert_eq!(
            signature_header(b"k", 12, b"body"),
            format!("t=12,v1={want}")
        );
    }
}
