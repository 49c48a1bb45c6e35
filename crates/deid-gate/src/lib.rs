//! The export gate: immutable ingest, an export queue that scans everything, reviewer
//! approval, a tamper-evident audit log, and release.

pub mod archive;
pub mod audit;
pub mod client;
pub mod config;
pub mod destination;
pub mod gate;
pub mod identity;
pub mod kind;
pub mod notify;
pub mod protocol;
pub mod scan;
pub mod service;
pub mod store;

pub use config::{Config, Role};
pub use gate::{Decision, Gate, GateError, InitOptions, Upload};
pub use identity::Actor;
pub use scan::{Findings, Note, Scanner};
pub use store::{Outcome, RequestId, State};
