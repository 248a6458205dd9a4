//! gateway.toml as written: serde structs with `deny_unknown_fields`.
