//! GitHub's webhook signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256
//! of the raw body under the webhook's secret>` (GitHub docs, "Validating
//! webhook deliveries"). Compared in constant time (`Mac::verify_slice`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Whether `header` is GitHub's signature of `body` under `secret`.
pub fn valid(secret: &[u8], header: Option<&str>, body: &[u8]) -> bool {
    let Some(tag) = header
        .and_then(|h| h.trim().strip_prefix("sha256="))
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&tag).is_ok()
}

/// The header GitHub would send for `body` (for tests and tools).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn githubs_documented_example_verifies() {
        // From GitHub's docs: secret "It's a Secret to Everybody",
        // payload "Hello, World!".
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(valid(
            b"It's a Secret to Everybody",
            Some(header),
            b"Hello, World!"
        ));
        assert_eq!(
            sign(b"It's a Secret to Everybody", b"Hello, World!"),
            header
        );
        assert!(!valid(b"wrong", Some(header), b"Hello, World!"));
        assert!(!valid(
            b"It's a Secret to Everybody",
            None,
            b"Hello, World!"
        ));
        assert!(!valid(
            b"It's a Secret to Everybody",
            Some("sha1=abc"),
            b"Hello, World!"
        ));
    }
}
