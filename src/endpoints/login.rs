//! `GET /auth/login` (the HTML form) and `POST /auth/login` (JSON or form).
//! Unknown user, wrong password and disabled user get one answer in about
//! the same time (SPEC §6); every login gets a new session id (fixation).

use std::sync::LazyLock;
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::auth::history::{self, Attempt, Outcome};
use crate::auth::password::{dummy_verify, effective_hash, verify_password};
use crate::auth::refresh::{new_refresh_token, token_hash};
use crate::auth::session::{new_secret, new_session_secret, set_cookie, sid_of};
use crate::auth::totp::{self, SecondFactor};
use crate::config::users::User;
use crate::endpoints::{json, Call};
use crate::error::{Answer, GateError, LimitInfo};
use crate::metrics::METRICS;
use crate::pages::{self, LoginPage, ProviderButton};
use crate::policy::csrf::check_form_origin;
use crate::store::{unix_now, GcraRule, ProviderLogin, RefreshRecord, SessionRecord};

/// Concurrent password checks: the number of cores.
static PASSWORD_CHECKS: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())));

/// Longest username or password considered; longer ones fail like bad ones
/// (argon2 on megabytes of input is a denial of service).
const MAX_FIELD: usize = 1024;

#[derive(Deserialize, Default)]
struct LoginInput {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    rd: Option<String>,
    /// The login form's CSRF token (form posts only).
    #[serde(skip)]
    csrf: String,
    /// TOTP code or backup code, when the user has TOTP (SPEC §4).
    #[serde(default)]
    totp: Option<String>,
}

/// The login form (SPEC §14). Works without JavaScript.
pub fn page(call: &Call<'_>) -> Result<Answer, GateError> {
    let rd = call.query_rd();
    let rd = call.state.redirects.check(&rd);
    // Double-submit token: a cross-site page can post the form but cannot
    // read or set this cookie, so it cannot make the two match.
    let csrf = new_secret();
    let mut answer = render_login(login_page(call, rd, &csrf), 200)?;
    let s = &call.state.config.session;
    answer.headers.push((
        "Set-Cookie",
        set_cookie(s, &s.csrf_cookie_name, &csrf, 3600),
    ));
    Ok(answer)
}

/// The identity providers' buttons (SPEC §13), in config order.
fn provider_buttons(call: &Call<'_>) -> Vec<ProviderButton> {
    super::oidc::buttons(call.state)
        .into_iter()
        .map(|b| ProviderButton {
            id: b.id,
            name: b.name,
            available: b.available,
        })
        .collect()
}

/// The login page with its buttons; the local form unless the gateway has
/// no local users and a provider to show instead.
fn login_page<'a>(call: &'a Call<'_>, rd: &'a str, csrf: &'a str) -> LoginPage<'a> {
    let buttons = provider_buttons(call);
    // SPEC §13: the local form is hidden when there is no `[users]` section.
    let show_local = call.state.config.users_file.is_some() || buttons.is_empty();
    LoginPage::new(&call.state.config.server.auth_prefix, rd, csrf)
        .providers(&buttons)
        .show_local(show_local)
}

fn render_login(page: LoginPage<'_>, status: u16) -> Result<Answer, GateError> {
    pages::render(status, &page).map_err(GateError::internal)
}

/// SPEC §14: a failed form login answers the page again, with the right
/// status, a message, the username and `rd` kept. Errors that are not the
/// login's own (CSRF, store, bad request) keep their usual answers.
fn failure_page(call: &Call<'_>, input: &LoginInput, e: GateError) -> Result<Answer, GateError> {
    let rd = call
        .state
        .redirects
        .check(input.rd.as_deref().unwrap_or("/"));
    let page = login_page(call, rd, &input.csrf);
    let username = input.username.as_str();
    match e {
        GateError::BadLogin => render_login(page.failed(username, BAD_LOGIN), 401),
        GateError::MfaRequired => {
            let message = if input.totp.as_deref().is_some_and(|c| !c.trim().is_empty()) {
                "That code was not accepted. Enter your password and the current code again."
            } else {
                "Enter your password and the one-time code from your authenticator app."
            };
            render_login(page.ask_code(username, message), 401)
        }
        GateError::RateLimited(info) => {
            let minutes = info.retry_after.max(1).div_ceil(60);
            let unit = if minutes == 1 { "minute" } else { "minutes" };
            let message = format!("Too many failed sign-ins. Try again in {minutes} {unit}.");
            let mut answer = render_login(page.failed(username, message), 429)?;
            answer
                .headers
                .extend(GateError::RateLimited(info).answer().headers);
            Ok(answer)
        }
        other => Err(other),
    }
}

/// The one message for every bad login (SPEC §6, §14).
const BAD_LOGIN: &str = "Wrong username or password.";

fn parse(call: &Call<'_>) -> Result<LoginInput, GateError> {
    if call.is_form() {
        let mut input = LoginInput::default();
        for (k, v) in form_urlencoded::parse(&call.body) {
            match k.as_ref() {
                "username" => input.username = v.into_owned(),
                "password" => input.password = v.into_owned(),
                "rd" => input.rd = Some(v.into_owned()),
                "csrf" => input.csrf = v.into_owned(),
                "totp" => input.totp = Some(v.into_owned()),
                _ => {}
            }
        }
        check_form_csrf(call, &input.csrf)?;
        Ok(input)
    } else if call.is_json() {
        serde_json::from_slice(&call.body)
            .map_err(|_| GateError::BadRequest("expected a JSON object with username and password"))
    } else {
        // Only JSON or a form: a cross-site `text/plain` post of a JSON body
        // (login CSRF) is refused without being read.
        Err(GateError::BadRequest("send application/json or a form"))
    }
}

/// SPEC §14: the login form is judged by its CSRF token, matched against its
/// cookie; a foreign origin is refused even with a valid token, a `null` or
/// absent one is left to the token (`check_form_origin`).
fn check_form_csrf(call: &Call<'_>, token: &str) -> Result<(), GateError> {
    check_form_origin(
        &call.req.headers,
        call.state.config.server.public_origin.as_deref(),
        &call.own_origin(),
    )?;
    let cookie = call
        .cookie(&call.state.config.session.csrf_cookie_name)
        .unwrap_or("");
    let same = !token.is_empty() && bool::from(token.as_bytes().ct_eq(cookie.as_bytes()));
    if same {
        Ok(())
    } else {
        Err(GateError::Csrf)
    }
}

/// Check the password off the async threads; unknown and disabled users run
/// a dummy verification so timing does not tell them apart.
pub(super) async fn verify(
    user: Option<User>,
    password: String,
) -> Result<Option<User>, GateError> {
    // At most one argon2 check per core at a time: each takes ~19 MiB and
    // ~17 ms, so a login flood queues here instead of piling up hundreds of
    // blocking threads and gigabytes of memory.
    let _permit = PASSWORD_CHECKS
        .acquire()
        .await
        .map_err(GateError::internal)?;
    tokio::task::spawn_blocking(move || {
        let too_long = password.len() > MAX_FIELD;
        match user {
            Some(u) if !too_long => {
                let ok = verify_password(&u.password_hash, &password);
                (ok && !u.disabled).then_some(u)
            }
            _ => {
                dummy_verify(if too_long { "" } else { &password });
                None
            }
        }
    })
    .await
    .map_err(GateError::internal)
}

pub async fn post(call: &Call<'_>) -> Result<Answer, GateError> {
    let input = parse(call)?;
    match local_sign_in(call, &input).await {
        Err(e) if call.is_form() => failure_page(call, &input, e),
        other => other,
    }
}

async fn local_sign_in(call: &Call<'_>, input: &LoginInput) -> Result<Answer, GateError> {
    let cfg = &call.state.config;
    let store = call.store().await?;
    limit_ip(call, LOGIN_PER_IP).await?;
    let candidate = if input.username.len() <= MAX_FIELD {
        call.live.users.get(&input.username).cloned()
    } else {
        None
    };
    let known = candidate.as_ref().map(|u| u.id.clone());
    // SPEC §8: counted per username whether or not it exists, so lockout
    // answers cannot be used to find out which usernames exist.
    let fail_key = failure_key(&input.username);
    let failures = store.login_failures(&fail_key).await?;
    if failures >= cfg.login.max_failures {
        METRICS.logins.with_label_values(&["locked_out"]).inc();
        remember(call, known.as_deref(), Outcome::Lockout, LOCAL).await?;
        let left = store
            .login_failures_left(&fail_key)
            .await?
            .unwrap_or(cfg.login.lockout);
        return Err(locked_out(cfg.login.max_failures, left));
    }
    // A password the user set (SPEC §14) counts while the users file still
    // holds the hash it replaced. Looked up for unknown names too, so the
    // lookup does not tell them apart by time.
    let own = store
        .get_password(known.as_deref().unwrap_or("\0unknown"))
        .await?;
    let candidate = candidate.map(|mut u| {
        u.password_hash = effective_hash(&u.password_hash, own.as_ref()).to_string();
        u
    });
    let Some(user) = verify(candidate, input.password.clone()).await? else {
        failed(call, &fail_key, &input.username, "bad credentials").await?;
        remember(call, known.as_deref(), Outcome::Failed, LOCAL).await?;
        return Err(GateError::BadLogin);
    };
    // An admin lock (`gatehouse user lock`) answers like a bad password,
    // after the same password work, so it cannot be told apart either.
    if store.user_locked(&user.id).await? {
        failed(call, &fail_key, &input.username, "user locked").await?;
        remember(call, known.as_deref(), Outcome::Failed, LOCAL).await?;
        return Err(GateError::BadLogin);
    }
    let second =
        totp::check_login(store.as_ref(), &user.id, input.totp.as_deref(), unix_now()).await?;
    match second {
        SecondFactor::NotEnrolled | SecondFactor::Passed => {}
        // The first half of a two-step login: not a failure.
        SecondFactor::Missing => {
            METRICS.logins.with_label_values(&["mfa_required"]).inc();
            return Err(GateError::MfaRequired);
        }
        // A wrong code counts towards the lockout like a wrong password, so
        // knowing the password does not buy unlimited guesses at the code.
        SecondFactor::Invalid => {
            failed(call, &fail_key, &input.username, "bad totp code").await?;
            remember(call, known.as_deref(), Outcome::MfaFailed, LOCAL).await?;
            return Err(GateError::MfaRequired);
        }
    }
    // Only after every factor passed: a right password alone must not
    // reset the count of wrong codes.
    store.clear_login_failures(&fail_key).await?;
    let Some(SignedIn { issued, cookies }) = sign_in(call, &user, None).await? else {
        failed(call, &fail_key, &input.username, "user locked").await?;
        remember(call, known.as_deref(), Outcome::Failed, LOCAL).await?;
        return Err(GateError::BadLogin);
    };
    if call.is_form() {
        let rd = input
            .rd
            .as_deref()
            .map(|rd| call.state.redirects.check(rd))
            .unwrap_or("/");
        let mut headers = vec![("Location", rd.to_string())];
        headers.extend(cookies);
        return Ok(Answer {
            status: 303,
            headers,
            body: String::new(),
        });
    }
    let mut answer = json(serde_json::json!({
        "access_token": issued.access,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "refresh_token": issued.refresh,
        "user": { "id": user.id, "username": user.username, "email": user.email, "roles": user.roles },
    }));
    answer.headers.extend(cookies);
    Ok(answer)
}

/// Keep the attempt in the user's sign-in history (known users only: an
/// unknown name has no history to keep it in). Returns whether a successful
/// one came from a new device.
async fn remember(
    call: &Call<'_>,
    user_id: Option<&str>,
    outcome: Outcome,
    provider: &str,
) -> Result<bool, GateError> {
    let Some(user_id) = user_id else {
        return Ok(false);
    };
    let store = call.store().await?;
    let attempt = Attempt {
        user_id,
        ip: &call.client_ip,
        user_agent: &user_agent(call),
        outcome,
        provider,
        now: unix_now(),
    };
    let ttl = call.state.config.tokens.refresh_ttl;
    Ok(history::record(store.as_ref(), &attempt, ttl).await?)
}

/// The request's user agent, safe to store and show (bounded, no controls).
pub fn user_agent(call: &Call<'_>) -> String {
    call.header("user-agent")
        .map(|ua| printable(ua).chars().take(256).collect())
        .unwrap_or_default()
}

/// Count a failed login for the lockout and log it (audit `login_failed`,
/// and `lockout` when this failure reaches the limit).
pub(super) async fn failed(
    call: &Call<'_>,
    fail_key: &str,
    username: &str,
    reason: &'static str,
) -> Result<(), GateError> {
    let cfg = &call.state.config;
    let store = call.store().await?;
    let count = store
        .record_login_failure(fail_key, cfg.login.lockout)
        .await?;
    let username = printable(username);
    tracing::info!(event = "login_failed", username = %username, ip = %call.client_ip, reason, "login failed");
    METRICS.logins.with_label_values(&["failed"]).inc();
    if count >= cfg.login.max_failures {
        tracing::warn!(event = "lockout", username = %username, ip = %call.client_ip, reason = "too many failed logins", "username locked out");
    }
    Ok(())
}

/// The `provider` of a sign-in with a local password (history, audit).
const LOCAL: &str = "local";

/// A session made by `sign_in`: what it hands out, and its cookies.
pub(crate) struct SignedIn {
    pub issued: Issued,
    pub cookies: [(&'static str, String); 2],
}

/// Make the session of a login that passed every check, local or through
/// an identity provider (SPEC §13: "exactly as a local login does"): the
/// session record, refresh token and access token, the cookies, the
/// metric and the audit `login_ok`. `None` when an admin lock landed while
/// it was made (the new session is ended again).
pub(crate) async fn sign_in(
    call: &Call<'_>,
    user: &User,
    origin: Option<ProviderLogin>,
) -> Result<Option<SignedIn>, GateError> {
    let cfg = &call.state.config;
    let store = call.store().await?;
    let provider = origin.as_ref().map(|o| o.provider.clone());
    let issued = issue_session(call, user, origin).await?;
    // An admin lock that landed after the caller's check revoked the user's
    // sessions before this one existed: look again now that it does.
    if store.user_locked(&user.id).await? {
        store.delete_session(&issued.sid).await?;
        return Ok(None);
    }
    METRICS.logins.with_label_values(&["ok"]).inc();
    call.set_user(&user.username);
    let provider = provider.as_deref().unwrap_or(LOCAL);
    tracing::info!(event = "login_ok", username = %user.username, ip = %call.client_ip, provider, "login ok");
    if remember(call, Some(&user.id), Outcome::Ok, provider).await? {
        tracing::info!(event = "login_new_device", username = %user.username, ip = %call.client_ip, user_agent = %user_agent(call), provider, "sign-in from a new device");
    }
    let cookies = [
        (
            "Set-Cookie",
            set_cookie(
                &cfg.session,
                &cfg.session.cookie_name,
                &issued.secret,
                cfg.session.absolute_timeout.as_secs() as i64,
            ),
        ),
        (
            "Set-Cookie",
            set_cookie(
                &cfg.session,
                &cfg.session.refresh_cookie_name,
                &issued.refresh,
                cfg.tokens.refresh_ttl.as_secs() as i64,
            ),
        ),
    ];
    Ok(Some(SignedIn { issued, cookies }))
}

/// What a login hands out.
pub(crate) struct Issued {
    pub sid: String,
    pub secret: String,
    pub refresh: String,
    pub access: String,
    pub expires_in: i64,
}

async fn issue_session(
    call: &Call<'_>,
    user: &User,
    origin: Option<ProviderLogin>,
) -> Result<Issued, GateError> {
    let cfg = &call.state.config;
    let now = unix_now();
    let secret = new_session_secret(&user.id);
    let record = SessionRecord {
        sid: sid_of(&secret),
        user_id: user.id.clone(),
        username: user.username.clone(),
        email: user.email.clone(),
        roles: user.roles.clone(),
        created: now,
        last_seen: now,
        expires_at: now + cfg.session.absolute_timeout.as_secs() as i64,
        ip: call.client_ip.clone(),
        user_agent: call
            .header("user-agent")
            .map(|ua| printable(ua).chars().take(256).collect())
            .unwrap_or_default(),
        oidc: origin,
    };
    let store = call.store().await?;
    // Indexed before the session exists, so a back-channel logout for the
    // provider session can never miss it (SPEC §13).
    if let Some(o) = &record.oidc {
        crate::auth::oidc::index_session(store.as_ref(), o, &record, cfg.session.absolute_timeout)
            .await?;
    }
    store
        .create_session(&record, cfg.session.idle_timeout)
        .await?;
    let refresh = new_refresh_token(&user.id);
    let refresh_rec = RefreshRecord {
        sid: record.sid.clone(),
        user_id: record.user_id.clone(),
        expires_at: (now + cfg.tokens.refresh_ttl.as_secs() as i64).min(record.expires_at),
    };
    store
        .put_refresh(&token_hash(&refresh), &refresh_rec, cfg.tokens.refresh_ttl)
        .await?;
    let (access, exp) = call.state.auth.tokens().mint(&record, now)?;
    Ok(Issued {
        sid: record.sid,
        secret,
        refresh,
        access,
        expires_in: exp - now,
    })
}

/// Login attempts per client IP: 10 a minute after a burst of 10.
const LOGIN_PER_IP: GcraRule = GcraRule {
    limit: 10,
    period: Duration::from_secs(60),
    burst: 10,
};

/// Refuse the call when its client IP is over `rule` (SPEC §8).
pub async fn limit_ip(call: &Call<'_>, rule: GcraRule) -> Result<(), GateError> {
    let key = format!("rl:{}:ip:{}", call.path, call.client_ip);
    let d = call
        .state
        .limiter
        .step(call.state.store_if_up().await, &key, &rule)
        .await;
    if d.allowed {
        Ok(())
    } else {
        Err(GateError::RateLimited(d.info))
    }
}

/// Store key of a username's failure counter: hashed, so any input makes a
/// short, safe key; lower-cased, since usernames are case-insensitive.
pub(super) fn failure_key(username: &str) -> String {
    format!(
        "lf:{}",
        hex::encode(Sha256::digest(username.to_lowercase().as_bytes()))
    )
}

/// 429 for a locked-out username, `left` the time until its failure count
/// lapses (the lockout restarts at every failure, so at most `lockout`).
fn locked_out(max_failures: u32, left: Duration) -> GateError {
    let secs = left.as_secs_f64().ceil().max(1.0) as u64;
    GateError::RateLimited(LimitInfo {
        limit: u64::from(max_failures),
        remaining: 0,
        reset: secs,
        retry_after: secs,
    })
}

/// Text safe to log or store: control characters replaced, bounded length.
pub fn printable(s: &str) -> String {
    s.chars()
        .take(128)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}
