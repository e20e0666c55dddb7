//! What the hub sends, before any platform renders it: rich messages, command
//! replies, and the brief and digest they may carry. Low in the crate graph so that `commands` (the command
//! engine), `adapters` (the platforms) and the hub share these types without
//! `adapters` depending on the command engine.

pub mod brief;
pub mod catalogue;
pub mod digest;
pub mod message;

pub use brief::Brief;
pub use catalogue::{ArgInfo, ArgType, CommandInfo};
pub use digest::{Digest, DigestGroup, DigestItem};
pub use message::{Button, ButtonStyle, Document, Field, Reply, RichMessage, Visibility};
