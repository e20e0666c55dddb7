//! The brief as data. The model lives in `neutral` (with the rich message
//! that carries it to the adapters); re-exported here where it is built.

pub use neutral::brief::*;
