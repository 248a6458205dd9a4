//! Configuration diagnostics: every problem as `file:line: key: message`,
//! all of them collected before failing (STYLE §5). Also the shared first
//! step of loading a TOML file: read it, parse it, and turn toml's byte
//! spans into lines and dotted key paths.

use std::borrow::Cow;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue};

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based; 0 when the problem has no place in the file (e.g. file missing).
    pub line: usize,
    /// Dotted key path, e.g. `server.listen` or `routes[2].upstream`
    /// (array indexes are 0-based).
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.key,
            self.message
        )
    }
}

/// All problems found while loading; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub Vec<Diagnostic>);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// 1-based line number of a byte offset in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Key used for problems with the file as a whole (missing, unreadable).
pub const FILE_KEY: &str = "(file)";
/// Key used for TOML syntax errors outside any key.
pub const SYNTAX_KEY: &str = "(syntax)";

/// Collects the problems of one file.
#[derive(Debug)]
pub struct Diags<'a> {
    file: &'a Path,
    text: &'a str,
    list: Vec<Diagnostic>,
}

impl<'a> Diags<'a> {
    pub fn new(file: &'a Path, text: &'a str) -> Self {
        Diags {
            file,
            text,
            list: Vec::new(),
        }
    }

    /// A problem at the start of `span`.
    pub fn at(&mut self, span: Range<usize>, key: impl Into<String>, message: impl Into<String>) {
        let line = line_of(self.text, span.start);
        self.push(line, key, message);
    }

    /// A problem with no place in the file (e.g. a whole section missing).
    pub fn nowhere(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.push(0, key, message);
    }

    fn push(&mut self, line: usize, key: impl Into<String>, message: impl Into<String>) {
        self.list.push(Diagnostic {
            file: self.file.to_path_buf(),
            line,
            key: key.into(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// How many problems so far (to tell whether a step added one).
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// The line of a byte offset in this file.
    pub fn line_of(&self, offset: usize) -> usize {
        line_of(self.text, offset)
    }

    /// `value` if nothing was reported, else every problem in file order.
    pub fn finish<T>(self, value: T) -> Result<T, ConfigError> {
        if self.list.is_empty() {
            Ok(value)
        } else {
            Err(self.into_error())
        }
    }

    /// Every problem reported so far, in file order.
    pub fn into_error(mut self) -> ConfigError {
        self.list.sort_by_key(|d| d.line);
        ConfigError(self.list)
    }
}

/// One diagnostic with no line, as a whole error.
pub fn file_error(file: &Path, message: impl Into<String>) -> ConfigError {
    ConfigError(vec![Diagnostic {
        file: file.to_path_buf(),
        line: 0,
        key: FILE_KEY.into(),
        message: message.into(),
    }])
}

/// Read a config file as UTF-8; a missing or unreadable file is a line-0
/// diagnostic.
pub fn read_file(file: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(file).map_err(|e| file_error(file, format!("cannot read: {e}")))
}

/// Parse TOML text into `T`. Syntax errors are all reported (toml recovers
/// and continues); a serde error (unknown key, wrong type) stops at the first,
/// reported with its line and the dotted key it is under.
pub fn parse_toml<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, ConfigError> {
    let mut diags = Diags::new(file, text);
    let (table, errors) = DeTable::parse_recoverable(text);
    for e in &errors {
        report(&mut diags, table.get_ref(), e);
    }
    if diags.is_empty() {
        let lookup = table.get_ref().clone();
        match T::deserialize(toml::de::Deserializer::from(table)) {
            Ok(v) => return Ok(v),
            Err(e) => report(&mut diags, &lookup, &e),
        }
    }
    Err(diags.into_error())
}

/// A toml error at its line, under the key it falls in.
fn report(diags: &mut Diags<'_>, table: &DeTable<'_>, e: &toml::de::Error) {
    match e.span() {
        Some(span) => {
            let key = key_at(table, span.start).unwrap_or_else(|| SYNTAX_KEY.into());
            diags.at(span, key, e.message());
        }
        None => diags.nowhere(SYNTAX_KEY, e.message()),
    }
}

/// A key as it appears in a dotted path: bare if TOML allows it bare,
/// quoted otherwise (`upstreams."my.app"`).
pub fn key_part(name: &str) -> Cow<'_, str> {
    let bare = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(format!("{name:?}"))
    }
}

/// The dotted path of the innermost key whose name or value covers `offset`.
/// Every child is searched, because a TOML table's span is only its header
/// and its keys may be anywhere in the file.
fn key_at(table: &DeTable<'_>, offset: usize) -> Option<String> {
    for (k, v) in table.iter() {
        // The key itself first: an unknown key's error points at its name,
        // which for `[[name]]` also lies inside the first element's header.
        if k.span().contains(&offset) {
            return Some(key_part(k.get_ref()).into_owned());
        }
        if let Some(inner) = value_key_at(v.get_ref(), offset) {
            let name = key_part(k.get_ref());
            return Some(format!("{name}{}", dotted(&inner)));
        }
        if v.span().contains(&offset) {
            return Some(key_part(k.get_ref()).into_owned());
        }
    }
    None
}

/// `.x` for a key, `[i]...` for an index.
fn dotted(inner: &str) -> Cow<'_, str> {
    if inner.starts_with('[') {
        Cow::Borrowed(inner)
    } else {
        Cow::Owned(format!(".{inner}"))
    }
}

fn value_key_at(value: &DeValue<'_>, offset: usize) -> Option<String> {
    match value {
        DeValue::Table(t) => key_at(t, offset),
        DeValue::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| match value_key_at(item.get_ref(), offset) {
                Some(inner) => Some(format!("[{i}]{}", dotted(&inner))),
                None if item.span().contains(&offset) => Some(format!("[{i}]")),
                None => None,
            }),
        _ => None,
    }
}
