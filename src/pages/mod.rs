//! Server-rendered pages (SPEC §14): askama templates under `templates/`,
//! compiled in and HTML-escaped by default, so no input reaches a page
//! unescaped. Pages work without JavaScript, load only the one stylesheet
//! served here, and carry the strict CSP; forms post only to this origin
//! and carry the CSRF token. Knows nothing of the store or of requests:
//! `endpoints` fills the page structs.

use askama::Template;

use crate::error::Answer;

mod account;
mod login;
mod qr;

pub use account::{AccountPage, HistoryRow, PendingTotp, SessionRow, TotpView};
pub use login::{LoginPage, ProviderButton};
pub use qr::qr_data_uri;

/// SPEC §14, exactly: nothing but our stylesheet, our images and `data:`
/// images (the QR code), forms only to us, never framed.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
form-action 'self'; frame-ancestors 'none'";

/// The one stylesheet, served at `<prefix>/static/gatehouse.css`.
pub const STYLESHEET: &str = include_str!("gatehouse.css");

/// A rendered page with the page headers.
pub fn render<T: Template>(status: u16, page: &T) -> Result<Answer, askama::Error> {
    Ok(html(status, page.render()?))
}

/// `body` as a page answer: HTML, the CSP, and `Referrer-Policy:
/// same-origin` so a browser's same-origin form post carries its real
/// `Origin` (under `no-referrer` Chromium sends `Origin: null`).
pub fn html(status: u16, body: String) -> Answer {
    Answer {
        status,
        headers: vec![
            ("Content-Type", "text/html; charset=utf-8".to_string()),
            ("Referrer-Policy", "same-origin".to_string()),
            ("Content-Security-Policy", CSP.to_string()),
        ],
        body,
    }
}

/// The stylesheet answer: public and cacheable (it holds nothing about
/// anyone), unlike every other answer under the prefix.
pub fn stylesheet() -> Answer {
    Answer {
        status: 200,
        headers: vec![
            ("Content-Type", "text/css; charset=utf-8".to_string()),
            ("Cache-Control", "public, max-age=86400".to_string()),
        ],
        body: STYLESHEET.to_string(),
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM UTC`.
pub fn when(ts: i64) -> String {
    match cookie::time::OffsetDateTime::from_unix_timestamp(ts) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        ),
        Err(_) => "-".into(),
    }
}

#[cfg(test)]
mod tests;
