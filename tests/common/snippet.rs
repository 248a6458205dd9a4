//! The README's front-proxy snippets (section "Forward-auth"), read from
//! README.md itself so the tests run exactly what an operator copies: the
//! fenced block after `<!-- snippet: NAME -->`, with only the documented
//! placeholders (`{listen}`, `{gatehouse}`, `{app}`) filled in.

use std::net::SocketAddr;

const README: &str = include_str!("../../README.md");

/// The code block that follows `<!-- snippet: name -->`; panics if absent.
pub fn snippet(name: &str) -> String {
    let marker = format!("<!-- snippet: {name} -->");
    let after = README
        .split_once(&marker)
        .unwrap_or_else(|| panic!("README.md has no {marker}"))
        .1;
    let open = after.find("```").expect("a fenced block after the marker");
    let body_start = open + after[open..].find('\n').expect("fence line") + 1;
    let len = after[body_start..]
        .find("\n```")
        .expect("the fenced block is closed");
    after[body_start..body_start + len + 1].to_string()
}

/// `snippet(name)` with `{gatehouse}` and `{app}` replaced (`{listen}` is
/// the front proxy harness's own placeholder).
pub fn filled(name: &str, gatehouse: SocketAddr, app: SocketAddr) -> String {
    let text = snippet(name);
    assert!(
        text.contains("{gatehouse}"),
        "the {name} snippet names no {{gatehouse}}"
    );
    text.replace("{gatehouse}", &gatehouse.to_string())
        .replace("{app}", &app.to_string())
}
