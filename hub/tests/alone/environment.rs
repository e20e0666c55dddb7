//! Tests that change the process environment (see `main.rs` for why they
//! run here and one at a time).

#[tokio::test]
async fn the_password_can_come_from_the_environment() {
    let _alone = crate::ALONE.lock().await;
    // figment maps ORKHUB_ADAPTERS__EMAIL__PASSWORD onto adapters.email.password.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "[adapters.email]\nusername = \"hub\"\n").unwrap();
    // SAFETY: this test holds ALONE: no other test of this binary runs now.
    unsafe { std::env::set_var("ORKHUB_ADAPTERS__EMAIL__PASSWORD", "from-env") };
    let config = hub::config::Config::load(&path).unwrap();
    unsafe { std::env::remove_var("ORKHUB_ADAPTERS__EMAIL__PASSWORD") };
    assert_eq!(config.adapters.email.password.as_deref(), Some("from-env"));
    assert!(!format!("{:?}", config.adapters.email).contains("from-env"));
}
