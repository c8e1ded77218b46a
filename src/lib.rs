//! gitdrift tells, with proof, where live infrastructure no longer matches what git declares.
//!
//! It is a pull-based, read-only agent: it reads desired state from committed git trees
//! ([`desired`]), reads live state without ever writing to it ([`live`]), judges drift field by
//! field ([`diff`]), and reports ([`report`]). [`scan`] ties one scan together; [`cli`] is the
//! command line.

#![warn(missing_docs)]

pub mod audit;
pub mod cli;
pub mod config;
pub mod desired;
pub mod diff;
pub mod digest;
pub mod files;
pub mod health;
pub mod judge;
pub mod live;
pub mod manifest;
pub mod metrics;
pub mod model;
pub mod progress;
pub mod remediate;
pub mod report;
pub mod scan;
pub mod serve;
pub mod store;
