//! `GET /auth/oidc/<id>/callback`: the provider's answer. Refused, with no
//! session made: no pre-login cookie, a missing, unknown, used or foreign
//! `state`, an `error` from the provider (shown escaped), a replayed code,
//! a failed exchange or ID token check, claims that do not map, a local
//! username without `link_local`. Then the session of a local login
//! (`login::sign_in`) and 303 to `rd` (SPEC §13).

use std::borrow::Cow;

use subtle::ConstantTimeEq;

use super::start::{login_href, Pending};
use super::{cookie_name, page, redirect_uri, sha256_hex, PRE_LOGIN_TTL};
use crate::auth::oidc::claims::map_identity;
use crate::auth::oidc::provider::ExchangeError;
use crate::auth::oidc::Provider;
use crate::auth::session::clear_cookie;
use crate::auth::users::User;
use crate::endpoints::login::{sign_in, SignedIn};
use crate::endpoints::Call;
use crate::error::{Answer, GateError};
use crate::metrics::METRICS;
use crate::store::ProviderLogin;

#[derive(Default)]
struct Query {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    /// RFC 9207: the issuer of the authorization response, when sent.
    iss: Option<String>,
}

fn query(call: &Call<'_>) -> Query {
    let mut q = Query::default();
    for (k, v) in form_urlencoded::parse(call.query.unwrap_or("").as_bytes()) {
        let v = Some(v.into_owned());
        match k.as_ref() {
            "state" => q.state = v,
            "code" => q.code = v,
            "error" => q.error = v,
            "error_description" => q.error_description = v,
            "iss" => q.iss = v,
            _ => {}
        }
    }
    q
}

/// A refusal: logged (audit `login_failed` with the provider), answered
/// with a page, the pre-login cookie cleared.
fn refuse(call: &Call<'_>, provider: &Provider, status: u16, reason: &str, shown: &str) -> Answer {
    METRICS.logins.with_label_values(&["failed"]).inc();
    tracing::info!(event = "login_failed", provider = %provider.cfg.id, ip = %call.client_ip, reason, "oidc login refused");
    let mut a = page::refused(status, shown, &login_href(call));
    let s = &call.state.config.session;
    a.headers
        .push(("Set-Cookie", clear_cookie(s, &cookie_name(call.state))));
    a
}

pub async fn get(call: &Call<'_>, provider: &Provider) -> Result<Answer, GateError> {
    if provider.discovered().is_none() {
        return Ok(page::unavailable(&provider.cfg.name, &login_href(call)));
    }
    let q = query(call);
    let expired = "This sign-in has expired or was started elsewhere. Please start again.";
    let Some(cookie) = call.cookie(&cookie_name(call.state)).map(str::to_owned) else {
        return Ok(refuse(call, provider, 400, "no pre-login cookie", expired));
    };
    let Some(state) = q.state.as_deref().filter(|s| !s.is_empty()) else {
        return Ok(refuse(call, provider, 400, "no state", expired));
    };
    let store = call.store().await?;
    // Taken once, on whichever gateway: a used state is gone.
    let Some(raw) = store.take_pending_login(&sha256_hex(&[state])).await? else {
        return Ok(refuse(
            call,
            provider,
            400,
            "unknown or used state",
            expired,
        ));
    };
    let Ok(pending) = serde_json::from_str::<Pending>(&raw) else {
        return Ok(refuse(
            call,
            provider,
            400,
            "corrupt pending login",
            expired,
        ));
    };
    let bound = bool::from(
        sha256_hex(&[&cookie])
            .as_bytes()
            .ct_eq(pending.binding.as_bytes()),
    );
    if !bound || pending.provider != provider.cfg.id {
        return Ok(refuse(
            call,
            provider,
            400,
            "state of another browser or provider",
            expired,
        ));
    }
    // RFC 9207 mix-up defence: a response that names another issuer is
    // not this provider's, whatever the state says.
    if q.iss
        .as_deref()
        .is_some_and(|iss| iss != provider.cfg.issuer)
    {
        return Ok(refuse(
            call,
            provider,
            400,
            "authorization response from another issuer",
            expired,
        ));
    }
    if let Some(error) = &q.error {
        let detail = q.error_description.as_deref().unwrap_or("");
        let shown = format!(
            "{} refused the sign-in: {error} {detail}",
            provider.cfg.name
        );
        let shown: String = shown.chars().take(300).collect();
        return Ok(refuse(
            call,
            provider,
            400,
            "provider error",
            shown.trim_end(),
        ));
    }
    let Some(code) = q.code.as_deref().filter(|c| !c.is_empty()) else {
        return Ok(refuse(call, provider, 400, "no code", expired));
    };
    if !store
        .first_use(
            &sha256_hex(&["code", &provider.cfg.id, code]),
            PRE_LOGIN_TTL,
        )
        .await?
    {
        return Ok(refuse(call, provider, 400, "replayed code", expired));
    }
    let login = match provider
        .exchange(
            &redirect_uri(call, provider),
            code,
            &pending.pkce_verifier,
            &pending.nonce,
        )
        .await
    {
        Ok(l) => l,
        Err(e @ (ExchangeError::Unavailable | ExchangeError::Unreachable(_))) => {
            tracing::warn!(provider = %provider.cfg.id, error = %e, "oidc provider unreachable at callback");
            return Ok(page::unavailable(&provider.cfg.name, &login_href(call)));
        }
        Err(e) => {
            tracing::info!(provider = %provider.cfg.id, error = %e, "oidc exchange refused");
            let shown = "The identity provider's answer could not be verified.";
            return Ok(refuse(call, provider, 400, "id token refused", shown));
        }
    };
    let live = call.live;
    let known = live.policy.roles.names();
    let who = match map_identity(&provider.cfg, &login.claims, known) {
        Ok(w) => w,
        Err(e) => {
            let shown = format!("Your account at {} cannot sign in here.", provider.cfg.name);
            return Ok(refuse(call, provider, 403, &e.to_string(), &shown));
        }
    };
    let local = live.users.get(&who.username);
    let (user, linked): (Cow<'_, User>, bool) = match local {
        Some(u) if provider.cfg.link_local => {
            if u.disabled {
                let shown = "This account cannot sign in.";
                return Ok(refuse(call, provider, 403, "local user disabled", shown));
            }
            (Cow::Borrowed(u), true)
        }
        Some(_) => {
            let shown = format!(
                "A local account already uses the name {:?}; sign in with its password.",
                who.username
            );
            return Ok(refuse(
                call,
                provider,
                403,
                "local username collision",
                &shown,
            ));
        }
        None => (
            Cow::Owned(User {
                username: who.username.clone(),
                id: who.id.clone(),
                email: who.email.clone(),
                password_hash: String::new(),
                roles: who.roles.clone(),
                disabled: false,
            }),
            false,
        ),
    };
    if store.user_locked(&user.id).await? {
        return Ok(refuse(
            call,
            provider,
            403,
            "user locked",
            "This account cannot sign in.",
        ));
    }
    let origin = ProviderLogin {
        provider: provider.cfg.id.clone(),
        sid: who.sid.clone(),
        sub: who.sub.clone(),
        id_token: login.id_token,
        linked,
    };
    let Some(SignedIn { cookies, .. }) = sign_in(call, &user, Some(origin)).await? else {
        return Ok(refuse(
            call,
            provider,
            403,
            "user locked",
            "This account cannot sign in.",
        ));
    };
    let s = &call.state.config.session;
    let mut headers = vec![("Location", pending.rd)];
    headers.extend(cookies);
    headers.push(("Set-Cookie", clear_cookie(s, &cookie_name(call.state))));
    Ok(Answer {
        status: 303,
        headers,
        body: String::new(),
    })
}
