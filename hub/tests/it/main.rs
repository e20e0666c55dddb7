//! The hub's integration tests, one binary: each module was a test binary of
//! its own, and each linked the whole hub (20 links of the same code). They
//! share `common` (test databases on SQLite and PostgreSQL, the test hub, the
//! built `orkhub` binary, the platforms' test servers).
//!
//! Run one area with a filter: `cargo test -p orkhub --test it telegram`.
//! Tests that need the process to themselves live in `../alone/`.

#[macro_use]
mod common;

mod api;
mod api_contract;
mod brief;
mod budget_zone;
mod check_config;
mod claim_commit;
mod commands_store;
mod config_file;
mod connections;
mod console;
mod console_brief;
mod console_browser;
mod console_email;
mod console_work;
mod crash;
mod db_outage;
mod decision_race;
mod decisions_api;
mod delivery_parents;
mod digests;
mod discord;
mod discord_gateway;
mod discord_limits;
mod dispatcher;
mod email;
mod email_tls;
mod feed_fanout;
mod github;
mod idempotency;
mod inbound;
mod keys;
mod money;
mod multi_instance;
mod multi_instance_pacing;
mod observability;
mod openapi;
mod platform_tls;
mod pool_surplus;
mod question_instances;
mod question_replies;
mod question_sla;
mod questions;
mod runtime_workers;
mod serve_listen;
mod slack;
mod start_up_code;
mod store_open;
mod telegram;
mod telegram_limits;
mod wal_checkpoints;
mod watchers;
mod webhooks;
mod webhooks_crash;
mod webhooks_ingest;
mod writer_connection;
