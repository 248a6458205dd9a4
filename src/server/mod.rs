//! Build the Pingora server from the config: the proxy service(s) with their
//! plain and TLS listeners (one single-threaded service per thread without
//! work stealing, see `shards`), and the background service that reloads on
//! SIGHUP. Slow and greedy clients are bounded here too: head and idle
//! timeouts (Pingora's server options) and connection limits (`limits`).
//! HTTP/2 from clients (ALPN, h2c, per-connection bounds) is `h2`.

pub mod h2;
pub mod limits;
pub mod shards;
pub mod upstream_checks;

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use pingora::apps::HttpServerOptions;
use pingora::listeners::tls::TlsSettings;
use pingora::server::configuration::ServerConf;
use pingora::server::{Server, ShutdownWatch};
use pingora::services::background::{background_service, BackgroundService};
use pingora::services::listening::Service;

use crate::auth::external::TrustedIssuers;
use crate::proxy::Gatehouse;
use crate::state::AppState;

/// Start serving; never returns (Pingora exits the process on shutdown).
pub fn run(state: Arc<AppState>) -> ! {
    // Pingora's own error answers (unparsable heads, CONNECT) in our format.
    pingora::protocols::http::server::set_error_response_hook(crate::proxy::respond::pingora_error);
    if state.config.log.access {
        crate::proxy::access_log::sink::start();
    }
    let cfg = &state.config.server;
    let conf = ServerConf {
        threads: cfg.threads,
        work_stealing: cfg.work_stealing,
        daemon: false,
        // Pingora waits the whole grace period after SIGTERM before stopping
        // the runtimes, so in-flight requests get `shutdown_timeout` to finish.
        grace_period_seconds: Some(cfg.shutdown_timeout.as_secs()),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();

    let addrs: Vec<SocketAddr> = cfg.listen.into_iter().chain(cfg.tls_listen).collect();
    let shards = shards::shard_count(cfg.threads, cfg.work_stealing, &addrs);
    // Held until the process exits (`run_forever` never returns).
    let mut _claims = Vec::with_capacity(addrs.len());
    for addr in &addrs {
        match shards::claim(*addr) {
            Ok(claim) => _claims.push(claim),
            Err(e) => {
                tracing::error!(error = %e, "cannot start");
                std::process::exit(2);
            }
        }
    }
    // One count for the process, whichever shard accepts a connection.
    let limits = limits::Limits::new(
        cfg.max_connections,
        cfg.max_connections_per_ip,
        cfg.trusted_proxies.clone(),
    );
    for shard in 0..shards {
        let mut app =
            pingora::proxy::http_proxy(&server.configuration, Gatehouse::new(state.clone()));
        app.server_options = Some(http_options(cfg));
        app.h2_options = Some(h2::options(cfg));
        let mut proxy = Service::new(
            "gatehouse".to_string(),
            limits::Limited::new(app, limits.clone()),
        );
        if let Some(addr) = cfg.listen {
            shards::listen_tcp(&mut proxy, addr, shard, shards);
        }
        if let (Some(addr), Some(cert), Some(key)) = (cfg.tls_listen, &cfg.tls_cert, &cfg.tls_key) {
            match TlsSettings::intermediate(&cert.to_string_lossy(), &key.to_string_lossy()) {
                Ok(mut settings) => {
                    h2::set_alpn(&mut settings, cfg);
                    shards::listen_tls(&mut proxy, addr, shard, shards, settings)
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot set up the TLS listener");
                    std::process::exit(2);
                }
            }
        }
        server.add_service(proxy);
    }
    if let Some(admin) = &state.config.admin {
        let mut svc =
            pingora::services::listening::Service::new("admin".to_string(), crate::admin::AdminApp);
        // Metrics scrapes are rare: one thread, not one per proxy thread.
        svc.threads = Some(1);
        svc.add_tcp(&admin.listen.to_string());
        server.add_service(svc);
    }
    if let Some(issuers) = state.auth.external().cloned().filter(|e| e.has_remote()) {
        server.add_service(background_service(
            "jwks refresh",
            JwksRefresher { issuers },
        ));
    }
    if !state.oidc.is_empty() {
        server.add_service(background_service(
            "oidc discovery",
            OidcDiscovery {
                providers: state.oidc.clone(),
            },
        ));
    }
    server.add_service(background_service(
        "upstream checks",
        upstream_checks::UpstreamChecks {
            state: state.clone(),
        },
    ));
    server.add_service(background_service("reload", Reloader { state }));
    tracing::info!("gatehouse started");
    server.run_forever()
}

/// Bounds for slow clients: the whole request head within
/// `header_timeout` (a slowloris head is cut off with a 408; the same bound
/// covers telling h2c from HTTP/1 and the HTTP/2 handshake), and at most
/// `keepalive_timeout` idle between requests on a kept-alive HTTP/1
/// connection, or without an open stream on an HTTP/2 one. `h2c`: cleartext
/// HTTP/2 with prior knowledge on the plain listener (SPEC §11).
fn http_options(cfg: &crate::config::ServerConfig) -> HttpServerOptions {
    let mut options = HttpServerOptions::default();
    options.header_timeout = Some(cfg.header_timeout);
    options.keepalive_timeout = Some(cfg.keepalive_timeout);
    options.h2_idle_timeout = Some(cfg.keepalive_timeout);
    options.h2c = cfg.h2c;
    options
}

/// Reloads policy and users on SIGHUP; a bad new config keeps the old one.
struct Reloader {
    state: Arc<AppState>,
}

#[async_trait]
impl BackgroundService for Reloader {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGHUP; reload disabled");
                return;
            }
        };
        loop {
            tokio::select! {
                _ = hup.recv() => match self.state.reload() {
                    Ok(()) => tracing::info!(event = "reload", "policy and users reloaded"),
                    Err(e) => tracing::error!(event = "reload_failed", errors = %e, "reload refused; the old policy stays in force"),
                },
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// Fetches the `jwks_url` of trusted issuers at start and every `refresh`.
struct JwksRefresher {
    issuers: Arc<TrustedIssuers>,
}

#[async_trait]
impl BackgroundService for JwksRefresher {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        tokio::select! {
            _ = self.issuers.clone().refresh_forever() => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Discovers the `[[oidc]]` providers at start, retries the unreachable
/// ones, and discovers them all again on SIGHUP (SPEC §13).
struct OidcDiscovery {
    providers: Arc<crate::auth::oidc::Providers>,
}

#[async_trait]
impl BackgroundService for OidcDiscovery {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        tokio::select! {
            _ = self.providers.discover_forever() => {}
            _ = shutdown.changed() => {}
        }
    }
}
