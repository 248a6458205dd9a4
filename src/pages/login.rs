//! The login page (SPEC §13, §14): provider buttons above the local form,
//! a message after a failed round, the username and `rd` kept.

use askama::Template;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

/// One identity provider's button (`[[oidc]]`, SPEC §13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderButton {
    pub id: String,
    pub name: String,
    /// Discovery succeeded: an unavailable provider shows its name only.
    pub available: bool,
}

/// A button as drawn: a link to the provider's start, or none.
struct ProviderLink {
    name: String,
    href: Option<String>,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    prefix: &'a str,
    rd: &'a str,
    csrf: &'a str,
    username: &'a str,
    error: Option<String>,
    /// A prompt, not a failure (the code round of a TOTP login).
    notice: Option<String>,
    ask_code: bool,
    /// False for a gateway with no local users: only provider buttons.
    show_local: bool,
    providers: Vec<ProviderLink>,
}

impl<'a> LoginPage<'a> {
    /// A fresh page: no message, no code field.
    pub fn new(prefix: &'a str, rd: &'a str, csrf: &'a str) -> Self {
        LoginPage {
            prefix,
            rd,
            csrf,
            username: "",
            error: None,
            notice: None,
            ask_code: false,
            show_local: true,
            providers: Vec::new(),
        }
    }

    /// The provider buttons, each a link to `<prefix>/oidc/<id>/start?rd=`
    /// (a link, not a form: nothing posts to another origin).
    pub fn providers(mut self, buttons: &[ProviderButton]) -> Self {
        let rd = utf8_percent_encode(self.rd, NON_ALPHANUMERIC).to_string();
        self.providers = buttons
            .iter()
            .map(|b| ProviderLink {
                name: b.name.clone(),
                href: b.available.then(|| {
                    let id = utf8_percent_encode(&b.id, NON_ALPHANUMERIC);
                    format!("{}/oidc/{id}/start?rd={rd}", self.prefix)
                }),
            })
            .collect();
        self
    }

    pub fn show_local(mut self, show: bool) -> Self {
        self.show_local = show;
        self
    }

    /// After a failed round: the message, the username kept.
    pub fn failed(mut self, username: &'a str, message: impl Into<String>) -> Self {
        self.username = username;
        self.error = Some(message.into());
        self
    }

    /// TOTP needed: ask for the code too, the username kept.
    pub fn ask_code(mut self, username: &'a str, prompt: impl Into<String>) -> Self {
        self.username = username;
        self.notice = Some(prompt.into());
        self.ask_code = true;
        self
    }
}
