//! Routing decides, for one notification and one recipient, where and when it
//! goes. It is pure: no I/O, no clock (the caller passes `now`), no tokio, no
//! sqlx — so every rule here can be covered by property tests.
//!
//! - [`plan`]: event × policy × preferences → delivery steps.
//! - [`is_quiet`] / [`quiet_ends_after`]: quiet hours against real instants.
//! - [`next_local_time`] / [`local_date`] / [`local_instant`]: daily slots
//!   (digest, brief) and brief windows in the person's zone, DST-correct.

mod channel;
mod plan;
mod policy;
mod prefs;
mod quiet;
mod schedule;
mod urgency;
mod zone;

pub use channel::{ChannelKind, UnknownChannel};
pub use plan::{Event, Plan, Step, Timing, plan, with_email_fallback};
pub use policy::RoutingPolicy;
pub use prefs::{Preferences, QuietHours};
pub use quiet::{is_quiet, quiet_ends_after};
pub use schedule::{local_date, local_instant, next_local_time};
pub use urgency::{UnknownUrgency, Urgency};
