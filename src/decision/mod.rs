//! The one decision path (SPEC §6-§8, §10): may this request go through,
//! as whom, within which limit? The proxy asks it for the request it
//! received and forward-auth for the request a front proxy describes, so
//! both answer the very same way. Each step is one line of `decide`.

use std::sync::Arc;

use crate::auth::check::{AuthOutcome, Directory};
use crate::auth::{AuthMethod, Identity};
use crate::error::{GateError, LimitInfo};
use crate::metrics::METRICS;
use crate::policy::cors::{preflight_method, Cors};
use crate::policy::csrf::{check_origin, is_unsafe};
use crate::policy::normalize::without_path_params;
use crate::policy::routes::{Access, Route};
use crate::policy::{authorize, Permit};
use crate::state::{AppState, Live};

pub mod view;

pub use view::RequestView;

/// The request may go through: with this permit (route and identity) and,
/// on a rate-limited route, these numbers for the `RateLimit-*` headers.
#[derive(Debug)]
pub struct Decision {
    pub permit: Permit,
    pub limit: Option<LimitInfo>,
}

/// What a decision learnt on its way, kept for the metrics and the access
/// log of a refused request too: a 403 names the route and who was refused.
#[derive(Debug, Default)]
pub struct Seen {
    /// The matched route's index.
    pub route: Option<usize>,
    /// The verified identity, if the credentials were good.
    pub identity: Option<Arc<Identity>>,
}

/// Route → authenticate → CSRF → authorize → rate-limit. `seen` gets the
/// route as soon as one matches and the identity once it is verified.
pub async fn decide(
    state: &AppState,
    live: &Live,
    view: &RequestView<'_>,
    seen: &mut Seen,
) -> Result<Decision, GateError> {
    let route = route(live, view)?;
    seen.route = Some(route.index);
    let identity = authenticate(state, live, view, route).await?;
    seen.identity.clone_from(&identity);
    csrf(state, view, route, identity.as_deref())?;
    let permit = authorize(route, &live.policy.roles, identity, &view.path.path)?;
    let limit = limit(state, live, view, route, &permit).await?;
    Ok(Decision { permit, limit })
}

/// First matching route (404 when none), and the same one without the
/// path's `;parameters`: Tomcat, Jetty and Spring remove them, so
/// `/admin;x/secret` must not pass as a catch-all match (SPEC §7).
fn route<'l>(live: &'l Live, view: &RequestView<'_>) -> Result<&'l Route, GateError> {
    let routes = &live.policy.routes;
    let host = view.host_name();
    let route = routes
        .find(view.method, host, &view.path.path)
        .ok_or(GateError::NotFound)?;
    if let Some(stripped) = without_path_params(&view.path.path) {
        let same = routes
            .find(view.method, host, &stripped?.path)
            .is_some_and(|other| other.index == route.index);
        if !same {
            return Err(GateError::BadRequest(
                "request path parameters (;) change which route matches",
            ));
        }
    }
    Ok(route)
}

/// The verified identity, if any. Ambiguous credentials are refused on
/// every route (issue 10 point 4: the app behind a public route may read
/// them); public routes then never touch the store, so they keep working
/// when it is down. A store failure on a protected route fails closed.
async fn authenticate(
    state: &AppState,
    live: &Live,
    view: &RequestView<'_>,
    route: &Route,
) -> Result<Option<Arc<Identity>>, GateError> {
    let creds = state.auth.credentials(view.headers)?;
    if route.access == Access::Public {
        return Ok(None);
    }
    let store = state.store().await?;
    let current = Directory {
        users: &live.users,
        roles: live.policy.roles.names(),
    };
    let outcome = state
        .auth
        .authenticate(creds, current, store.as_ref())
        .await?;
    let method = creds.method().map_or("none", |m| m.as_str());
    let result = match &outcome {
        AuthOutcome::Authenticated(_) => "ok",
        AuthOutcome::Anonymous => "anonymous",
        AuthOutcome::Refused(reason) => reason,
    };
    METRICS.count_auth(method, result);
    Ok(match outcome {
        AuthOutcome::Authenticated(id) => Some(Arc::new(id)),
        AuthOutcome::Anonymous | AuthOutcome::Refused(_) => None,
    })
}

/// SPEC §6 CSRF: a cookie-carried unsafe request must come from our own
/// origin (the request's, or `public_url`'s), or from an origin the route
/// trusts with credentials (CORS). Bearer and API-key requests are exempt.
fn csrf(
    state: &AppState,
    view: &RequestView<'_>,
    route: &Route,
    identity: Option<&Identity>,
) -> Result<(), GateError> {
    let by_cookie = identity.is_some_and(|id| id.method == AuthMethod::Cookie);
    if !by_cookie || !is_unsafe(view.method) {
        return Ok(());
    }
    let cors_ok = route
        .cors
        .as_ref()
        .is_some_and(|c| c.credentials && c.allowed(view.headers).is_some());
    if cors_ok {
        return Ok(());
    }
    let public = state.config.server.public_origin.as_deref();
    check_origin(view.headers, public, &view.own_origin())
}

/// The route's rate limit (SPEC §8), in the store or, when it is down, the
/// local fallback limiter.
async fn limit(
    state: &AppState,
    live: &Live,
    view: &RequestView<'_>,
    route: &Route,
    permit: &Permit,
) -> Result<Option<LimitInfo>, GateError> {
    let Some(limit) = route
        .rate_limit
        .and_then(|i| live.policy.rate_limits.get(i))
    else {
        return Ok(None);
    };
    let store = state.store_if_up().await;
    let id = permit.identity();
    match state
        .limiter
        .check(store, limit, route.index, id, view.client_ip)
        .await
    {
        Ok(info) => Ok(Some(info)),
        Err(e) => {
            if let GateError::RateLimited(_) = e {
                METRICS.ratelimited.with_label_values(&[&limit.name]).inc();
            }
            Err(e)
        }
    }
}

/// A CORS preflight for a route with CORS settings (answered before
/// authentication: browsers send preflights without credentials). `None`:
/// not a preflight for such a route. `Err`: an origin the route does not
/// list (403).
pub fn preflight<'l>(
    live: &'l Live,
    view: &RequestView<'_>,
) -> Option<Result<(&'l Cors, http::Method), GateError>> {
    let asked = preflight_method(view.method, view.headers)?;
    let cors = live
        .policy
        .routes
        .find(&asked, view.host_name(), &view.path.path)?
        .cors
        .as_ref()?;
    Some(match cors.allowed(view.headers) {
        Some(_) => Ok((cors, asked)),
        None => Err(GateError::Forbidden),
    })
}
