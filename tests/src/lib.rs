//! Test servers on 127.0.0.1 that answer as the real services do — their
//! payloads, their errors, their limits and their 429s — so the hub's tests
//! run the real adapter crates (teloxide, slack-morphism, serenity,
//! lettre, async-openai) over real connections. Each is built from the service's
//! public documentation; the module header names the pages.
//!
//! Every server records what it was sent, for the tests to inspect, and
//! lets a test script failures (a blocked chat, a spent rate budget, an SMTP
//! 4xx) up front.

pub mod discord_gateway;
pub mod discord_server;
pub mod openai_server;
pub mod slack_server;
pub mod smtp_server;
pub mod telegram_server;
pub mod tls;
