//! Rebuild the hub when a migration is added or changed: `sqlx::migrate!`
//! embeds the files of `migrations/` at compile time, and cargo does not
//! know to look there — without this, a new migration file left the
//! binary (and the tests) running the old set until some Rust file
//! changed. The form sqlx documents (`sqlx migrate build-script`).
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
