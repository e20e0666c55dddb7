//! The neutral message types live in the `neutral` crate (shared with the
//! adapters, which do not depend on the command engine); re-exported here so
//! `commands::message::…` paths keep working.

pub use neutral::message::*;
