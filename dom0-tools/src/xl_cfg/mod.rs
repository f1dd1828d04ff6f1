//! Domain config files in Xen's xl.cfg syntax: the settings, then a typed `DomainConfig`.

pub mod disk;
pub mod domain;
pub mod error;
#[cfg(test)]
mod hostile_input;
pub mod lexer;
pub mod number;
#[cfg(test)]
mod shipped_configs;
pub mod syntax;
pub mod vif;

pub use disk::{DiskAccess, DiskFormat, DiskSpec, parse_disk_spec};
pub use domain::{Action, DomainConfig, IgnoredKey};
pub use error::{ConfigError, ConfigWarning};
pub use syntax::{Config, Setting, Value};
pub use vif::{VifSpec, parse_vif_spec};
