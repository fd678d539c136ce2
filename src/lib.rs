//! famlink: the engine of a family tracing service.
//!
//! It holds the records of separated children and the tracing inquiries of their
//! families, keeps them in an embedded database, indexes their names and places for
//! tolerant search, and (in later modules) proposes likely links for a person to
//! review. This crate knows nothing of HTTP or of the command line; `famlink serve`
//! and the CLI are thin layers over it.

pub mod access;
pub mod batch;
pub mod compare;
pub mod fixtures;
pub mod import;
pub mod link;
pub mod matching;
pub mod model;
pub mod names;
pub mod places;
pub mod record;
pub mod registry;
pub mod review;
pub mod rulebook;
pub mod rules;
pub mod search;
pub mod server;
pub mod store;
pub mod web;
