//! orkhub: the hub service. Config, store, outbox and dispatcher, HTTP API,
//! scheduler and wiring; the `orkhub` binary is in main.rs.

pub mod allocator;
pub mod api;
pub mod app;
pub mod backend;
pub mod brief;
pub mod config;
pub mod console;
pub mod digest;
pub mod directory;
pub mod dispatch;
pub mod feed;
pub mod github;
pub mod ids;
pub mod inbound;
pub mod inbox;
pub mod ingest;
pub mod memory;
pub mod memory_trim;
pub mod observe_requests;
pub mod platforms;
pub mod questions;
pub mod replies;
pub mod request_metrics;
pub mod rfc3339;
pub mod schedule;
pub mod seed;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod wal_checkpoints;
pub mod watch;
pub mod webhooks;
