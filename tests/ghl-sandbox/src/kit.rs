//! The parts of this sandbox that know nothing about GHL, for the project's other sandboxes
//! (`tests/lms-sandbox`) to reuse instead of copying: seeded fault dice, the sliding-window
//! limiter, the accept loop with its dropped-connection marker, and the binary's flag parser.
//! Their behaviour is described in this crate's README (rate limits, fault model).

pub use crate::faults::{Dice, Fault, Roll, validate as validate_faults};
pub use crate::flags::{FlagSpec, Flags};
pub use crate::limits::{Limiter, RateHeaders};
pub use crate::server::{DropConnection, Dropped, spawn as serve};
