//! `orkhub serve` on an address it cannot listen on stops with an error
//! that names the address and where it came from, not only the system's
//! "Address already in use".

use crate::common;

use common::binary::Instance;

#[test]
fn a_taken_port_is_named_in_the_error() {
    let hub = Instance::new("[[people]]\nid = \"ceo\"\nrole = \"owner\"\n");
    // Someone else has the port.
    let _taken = std::net::TcpListener::bind(("127.0.0.1", hub.port)).unwrap();
    let out = hub.cmd().arg("serve").output().unwrap();
    assert!(!out.status.success(), "serve should fail on a taken port");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "cannot listen on 127.0.0.1:{} (server.listen in the config, or ORKHUB_SERVER__LISTEN)",
        hub.port
    );
    assert!(stderr.contains(&want), "{stderr}");
    assert!(stderr.contains("Address already in use"), "{stderr}");
}
