//! Kennel's benchmarks: each measures Kennel next to a floor (or a competitor) in the same run,
//! interleaved, and reports ratios, never absolute figures alone.

pub mod api;
pub mod baselines;
pub mod cli;
pub mod commands;
pub mod floor;
pub mod grading;
pub mod idle;
pub mod load;
pub mod minimal;
pub mod multihost;
pub mod nginx;
pub mod programs;
pub mod report;
pub mod restart;
pub mod runner;
pub mod suite;
