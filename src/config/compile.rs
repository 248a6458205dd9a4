//! Check the raw config and compile it into `Config`: every problem collected,
//! cross-references (upstream, role, rate limit names) resolved to indexes.

use std::path::Path;

use crate::config::{Config, ConfigError};

/// Load, validate and compile gateway.toml (not the users file or keys,
/// which `state` loads with the file-and-line context they need).
pub fn load(_path: &Path) -> Result<Config, ConfigError> {
    todo!("config: load")
}
