//! `GET /auth/account` (the account page, SPEC §14) and its form posts:
//! revoke a session, sign out everywhere, start and confirm TOTP
//! enrolment. Each post checks the CSRF token and answers 303 back to the
//! page with a message (TOTP confirmation shows the page at once: its
//! backup codes are shown only this once).

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use crate::auth::session::clear_session_cookies;
use crate::auth::{totp, Identity};
use crate::endpoints::forms::{page_token, see_other, Form};
use crate::endpoints::{totp as enrol, Call};
use crate::error::{Answer, GateError};
use crate::pages::{self, AccountPage, HistoryRow, PendingTotp, SessionRow, TotpView};

/// Sign-ins shown on the page.
const HISTORY_SHOWN: usize = 20;

/// What the page says after a post, by the code in `?msg=`: fixed texts,
/// so nothing from the URL is shown.
fn notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "revoked" => "The session was signed out.",
        "password" => "Your password was changed. Your other sessions were signed out.",
        "totp" => "Scan the QR code with your authenticator app, then enter the code it shows.",
        _ => return None,
    })
}

/// What an account page is drawn with, besides the store's state.
#[derive(Default)]
pub(super) struct Extras {
    pub notice: Option<&'static str>,
    pub error: Option<String>,
    pub backup_codes: Option<Vec<String>>,
}

pub async fn page(call: &Call<'_>) -> Result<Answer, GateError> {
    let Some(id) = call.identity().await?.filter(|i| i.sid.is_some()) else {
        return Err(anonymous(call));
    };
    let code = call
        .query
        .and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "msg")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_default();
    let extras = Extras {
        notice: notice(&code),
        ..Extras::default()
    };
    render(call, &id, extras, 200).await
}

/// An anonymous browser goes to the login page and comes back here; an
/// API client gets the 401 (SPEC §14).
fn anonymous(call: &Call<'_>) -> GateError {
    let prefix = &call.state.config.server.auth_prefix;
    let browser = call
        .header("accept")
        .is_some_and(|a| a.to_ascii_lowercase().contains("text/html"));
    GateError::Unauthenticated {
        browser: browser.then(|| {
            let rd = utf8_percent_encode(call.path, NON_ALPHANUMERIC);
            format!("{prefix}/login?rd={rd}")
        }),
    }
}

/// Draw the page for `id` with `status`.
pub(super) async fn render(
    call: &Call<'_>,
    id: &Identity,
    extras: Extras,
    status: u16,
) -> Result<Answer, GateError> {
    let cfg = &call.state.config;
    let store = call.store().await?;
    let sessions = store
        .list_sessions(&id.user_id)
        .await?
        .into_iter()
        .map(|s| SessionRow {
            current: id.sid.as_deref() == Some(s.sid.as_str()),
            device: if s.user_agent.is_empty() {
                "unknown device".into()
            } else {
                s.user_agent.chars().take(120).collect()
            },
            ip: s.ip,
            last_seen: pages::when(s.last_seen),
            id: s.sid,
        })
        .collect();
    let record = store.get_totp(&id.user_id).await?;
    let totp_active = record.as_ref().is_some_and(|r| r.active);
    let totp = match record {
        Some(r) if r.active => TotpView::Active(r.backup_codes_left),
        Some(r) => {
            let uri = totp::otpauth_uri(&cfg.tokens.issuer, &id.username, &r.secret);
            TotpView::Pending(PendingTotp {
                qr: pages::qr_data_uri(&uri).unwrap_or_default(),
                secret: r.secret,
                uri,
            })
        }
        None => TotpView::Off,
    };
    let history = store
        .login_history(&id.user_id, HISTORY_SHOWN)
        .await?
        .into_iter()
        .map(|e| HistoryRow {
            time: pages::when(e.time),
            ip: e.ip,
            user_agent: if e.user_agent.is_empty() {
                "unknown device".into()
            } else {
                e.user_agent.chars().take(120).collect()
            },
            result: e.result,
            provider: e.provider,
            new_device: e.new_device,
        })
        .collect();
    let (csrf, cookie) = page_token(call);
    let page = AccountPage {
        prefix: &cfg.server.auth_prefix,
        csrf: &csrf,
        username: &id.username,
        email: &id.email,
        roles: &id.roles,
        sessions,
        totp,
        backup_codes: extras.backup_codes,
        totp_active,
        min_length: cfg.passwords.min_length,
        max_length: cfg.passwords.max_length,
        history,
        notice: extras.notice,
        error: extras.error,
    };
    let mut answer = pages::render(status, &page).map_err(GateError::internal)?;
    answer.headers.push(cookie);
    Ok(answer)
}

/// The signed-in user of a form post, with its token checked.
async fn poster(call: &Call<'_>) -> Result<(Identity, Form), GateError> {
    let id = call.require_user().await?;
    let form = Form::read(call)?;
    form.check_token(call)?;
    Ok((id, form))
}

fn back(call: &Call<'_>, msg: &str) -> Answer {
    see_other(format!(
        "{}/account?msg={msg}",
        call.state.config.server.auth_prefix
    ))
}

/// `POST /auth/account/sessions/revoke` (`sid`): end one of one's own
/// sessions. Another user's answers like a missing one.
pub async fn revoke(call: &Call<'_>) -> Result<Answer, GateError> {
    let (id, form) = poster(call).await?;
    let target = form.get("sid");
    super::sessions::revoke_own(call, &id, target).await?;
    if id.sid.as_deref() == Some(target) {
        return Ok(signed_out(call));
    }
    Ok(back(call, "revoked"))
}

/// `POST /auth/account/logout-all`: end every session of the user, this one
/// included, and go to the login page.
pub async fn logout_all(call: &Call<'_>) -> Result<Answer, GateError> {
    let (id, _) = poster(call).await?;
    let store = call.store().await?;
    let ended = store.delete_user_sessions(&id.user_id).await?;
    tracing::info!(event = "logout", username = %id.username, ip = %call.client_ip, all = true, ended, "logout");
    Ok(signed_out(call))
}

/// 303 to the login page, the session cookies cleared.
fn signed_out(call: &Call<'_>) -> Answer {
    let s = &call.state.config.session;
    let mut answer = see_other(format!("{}/login", call.state.config.server.auth_prefix));
    answer.headers.extend(clear_session_cookies(s));
    answer
}

/// `POST /auth/account/totp/enroll`: start enrolment; the page then shows
/// the QR code and the secret.
pub async fn totp_enroll(call: &Call<'_>) -> Result<Answer, GateError> {
    let (id, _) = poster(call).await?;
    enrol::start(call, &id).await?;
    Ok(back(call, "totp"))
}

/// `POST /auth/account/totp/confirm` (`code`): activate, and show the
/// backup codes this once.
pub async fn totp_confirm(call: &Call<'_>) -> Result<Answer, GateError> {
    let (id, form) = poster(call).await?;
    match enrol::activate(call, &id, form.get("code")).await {
        Ok(codes) => {
            let extras = Extras {
                backup_codes: Some(codes),
                ..Extras::default()
            };
            render(call, &id, extras, 200).await
        }
        Err(GateError::BadRequest(why)) => {
            let extras = Extras {
                error: Some(format!(
                    "Two-factor authentication was not turned on: {why}."
                )),
                ..Extras::default()
            };
            render(call, &id, extras, 422).await
        }
        Err(e) => Err(e),
    }
}
