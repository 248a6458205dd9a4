//! The pages' form posts (SPEC §14): form-encoded fields, and the CSRF
//! token every form carries, matched against its cookie (double submit).
//! The origin is checked too, by `Call::require_user` (SPEC §6).

use subtle::ConstantTimeEq;

use crate::auth::session::{new_secret, set_cookie};
use crate::endpoints::Call;
use crate::error::GateError;

/// A form post's fields.
pub struct Form(Vec<(String, String)>);

impl Form {
    /// The body's fields; only a form-encoded body is one.
    pub fn read(call: &Call<'_>) -> Result<Form, GateError> {
        if !call.is_form() {
            return Err(GateError::BadRequest("send a form"));
        }
        Ok(Form(
            form_urlencoded::parse(&call.body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }

    /// The first value of `name` ("" when absent).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The form's token must equal the CSRF cookie: a cross-site page can
    /// make a browser post a form but can neither read nor set the cookie.
    pub fn check_token(&self, call: &Call<'_>) -> Result<(), GateError> {
        let token = self.get("csrf");
        let cookie = call
            .cookie(&call.state.config.session.csrf_cookie_name)
            .unwrap_or("");
        if !token.is_empty() && bool::from(token.as_bytes().ct_eq(cookie.as_bytes())) {
            Ok(())
        } else {
            Err(GateError::Csrf)
        }
    }
}

/// The CSRF token for a page's forms: the request's, or a new one; with the
/// `Set-Cookie` that (re)sets it for another hour.
pub fn page_token(call: &Call<'_>) -> (String, (&'static str, String)) {
    let s = &call.state.config.session;
    let token = call
        .cookie(&s.csrf_cookie_name)
        .filter(|t| !t.is_empty())
        .map_or_else(new_secret, str::to_owned);
    let cookie = set_cookie(s, &s.csrf_cookie_name, &token, 3600);
    (token, ("Set-Cookie", cookie))
}

/// 303 to `location` (after a form post).
pub fn see_other(location: String) -> crate::error::Answer {
    crate::error::Answer {
        status: 303,
        headers: vec![("Location", location)],
        body: String::new(),
    }
}
