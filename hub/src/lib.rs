//! orkhub: the hub service. Config, store, outbox and dispatcher, HTTP API,
//! scheduler and wiring; the `orkhub` binary is in main.rs.

pub mod store;
