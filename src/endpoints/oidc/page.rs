//! The HTML pages the OIDC endpoints answer with when a sign-in cannot go
//! on: escaped text only (a provider's `error` is never echoed raw).

use crate::error::Answer;

pub fn page(status: u16, title: &str, message: &str, login_href: &str) -> Answer {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head><body>\
<main><h1>{title}</h1><p>{message}</p><p><a href=\"{href}\">Back to sign in</a></p></main></body></html>",
        title = html_escape::encode_text(title),
        message = html_escape::encode_text(message),
        href = html_escape::encode_double_quoted_attribute(login_href),
    );
    Answer {
        status,
        headers: vec![
            ("Content-Type", "text/html; charset=utf-8".to_string()),
            (
                "Content-Security-Policy",
                "default-src 'none'; frame-ancestors 'none'".to_string(),
            ),
            ("Referrer-Policy", "same-origin".to_string()),
        ],
        body,
    }
}

/// 503: the provider cannot be reached (SPEC §13).
pub fn unavailable(name: &str, login_href: &str) -> Answer {
    page(
        503,
        "Sign-in unavailable",
        &format!(
            "{name} cannot be reached right now. Try again in a moment, or sign in another way."
        ),
        login_href,
    )
}

/// 400/403: the sign-in was refused; `why` is shown escaped.
pub fn refused(status: u16, why: &str, login_href: &str) -> Answer {
    page(status, "Sign-in failed", why, login_href)
}
