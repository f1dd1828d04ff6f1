//! Shared helpers of the integration tests: the images, booting a scenario, markers, failure reports.

#![forbid(unsafe_code)]

pub mod disk_test;
pub mod guest_verdict;
pub mod images;
pub mod markers;
pub mod report;
pub mod scenario;
pub mod xl_session;
