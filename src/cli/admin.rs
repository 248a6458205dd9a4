//! Operator commands against the configured store (SPEC §1): API keys,
//! users' sessions, admin user locks and TOTP resets. Each command builds its
//! own Tokio runtime and connects with `store::connect`.
//!
//! Only the redis backend is shared with running gateways. The memory store
//! lives inside the gateway process, so with `backend = "memory"` these
//! commands refuse with exit 2 (a configuration problem) instead of writing
//! to a store no gateway reads.
//!
//! Output for people and scripts goes to stdout (`apikey create` prints only
//! the key); audit events (`apikey_created`, `apikey_revoked`,
//! `session_revoked`, `user_locked`, ...) go to the log on stderr, never with
//! a key or a TOTP secret.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use clap::Subcommand;

use crate::auth::apikey;
use crate::config::duration::parse_duration;
use crate::config::users::{load_configured, UserDirectory};
use crate::config::{self, Config, StoreBackend};
use crate::store::{self, unix_now, ApiKeyRecord, Store};

#[derive(Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key and print it (shown this once; only its hash is stored).
    Create {
        /// Unique name (A-Z a-z 0-9 . _ -); the identity is `apikey:NAME`.
        #[arg(long)]
        name: String,
        /// Comma-separated roles from `[roles]`.
        #[arg(long, value_delimiter = ',', required = true)]
        roles: Vec<String>,
        /// Expire the key after this long ("90d"); default: until revoked.
        #[arg(long)]
        ttl: Option<String>,
    },
    /// List API keys: name, roles, created, last used, expires.
    List,
    /// Revoke an API key; requests with it are refused at once.
    Revoke {
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
pub enum SessionsCommand {
    /// List a user's live sessions.
    List {
        #[arg(long)]
        user: String,
    },
    /// End all of a user's sessions (--user) or one session (--id).
    Revoke {
        #[arg(long, required_unless_present = "id", conflicts_with = "id")]
        user: Option<String>,
        /// A session id as shown by `sessions list` or /auth/sessions.
        #[arg(long)]
        id: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Lock a user out: logins fail like a wrong password, sessions end now.
    Lock {
        #[arg(long)]
        user: String,
    },
    /// Lift an admin lock.
    Unlock {
        #[arg(long)]
        user: String,
    },
    /// Remove a user's TOTP (lost device); they can enrol again.
    TotpReset {
        #[arg(long)]
        user: String,
    },
    /// The user's last sign-in attempts, newest first.
    History {
        #[arg(long)]
        user: String,
    },
}

/// Why a command failed, and so its exit code.
enum Fail {
    /// Bad configuration or usage: exit 2.
    Usage(String),
    /// The store or its state said no: exit 1.
    Runtime(String),
}

impl Fail {
    fn report(self) -> i32 {
        match self {
            Fail::Usage(m) => {
                eprintln!("gatehouse: {m}");
                2
            }
            Fail::Runtime(m) => {
                eprintln!("gatehouse: {m}");
                1
            }
        }
    }
}

/// Config, users and a connected store, for one command.
struct Ctx {
    config: Config,
    users: UserDirectory,
    store: Arc<dyn Store>,
}

impl Ctx {
    /// A user from the users file: (id, username).
    fn user(&self, name: &str) -> Result<(String, String), Fail> {
        self.users
            .get(name)
            .map(|u| (u.id.clone(), u.username.clone()))
            .ok_or_else(|| {
                Fail::Usage(format!(
                    "no user {name:?} in {}",
                    self.config
                        .users_file
                        .as_deref()
                        .unwrap_or(Path::new("(no [users] file)"))
                        .display()
                ))
            })
    }
}

fn store_failed(e: store::StoreError) -> Fail {
    Fail::Runtime(format!("store call failed: {e}"))
}

pub const MEMORY_REFUSAL: &str = "[store] backend = \"memory\" keeps sessions, API keys, locks and TOTP inside the \
running gateway process; this command runs in another process and cannot reach them. Use backend = \"redis\" \
to administer a running gateway from the command line.";

/// Load config and users, refuse the memory backend, connect, and run `f`.
fn with_store<F, Fut>(config: &Path, f: F) -> i32
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = Result<(), Fail>>,
{
    let config = match config::load(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let users = match load_configured(config.users_file.as_deref(), &|r| {
        config.policy.roles.contains(r)
    }) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    if config.store.backend == StoreBackend::Memory {
        return Fail::Usage(MEMORY_REFUSAL.to_string()).report();
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return Fail::Runtime(format!("cannot start a runtime: {e}")).report(),
    };
    let result = rt.block_on(async {
        let store = store::connect(&config.store)
            .await
            .map_err(|e| Fail::Usage(format!("store: {e}")))?;
        // The error text never quotes the URL: it may hold a password.
        store
            .ping()
            .await
            .map_err(|e| Fail::Runtime(format!("cannot reach the store ({e})")))?;
        f(Ctx {
            config,
            users,
            store,
        })
        .await
    });
    match result {
        Ok(()) => 0,
        Err(fail) => fail.report(),
    }
}

pub fn apikey(config: &Path, cmd: ApiKeyCommand) -> i32 {
    with_store(config, |ctx| async move {
        match cmd {
            ApiKeyCommand::Create { name, roles, ttl } => {
                apikey_create(&ctx, &name, roles, ttl.as_deref()).await
            }
            ApiKeyCommand::List => apikey_list(&ctx).await,
            ApiKeyCommand::Revoke { name } => {
                if !ctx
                    .store
                    .revoke_api_key(&name)
                    .await
                    .map_err(store_failed)?
                {
                    return Err(Fail::Runtime(format!("no API key named {name:?}")));
                }
                tracing::info!(event = "apikey_revoked", username = %format!("{}{name}", apikey::IDENTITY_PREFIX), ip = "cli", reason = "revoked by operator", "API key revoked");
                println!("revoked API key {name}");
                Ok(())
            }
        }
    })
}

async fn apikey_create(
    ctx: &Ctx,
    name: &str,
    roles: Vec<String>,
    ttl: Option<&str>,
) -> Result<(), Fail> {
    apikey::check_name(name).map_err(Fail::Usage)?;
    let roles: Vec<String> = roles
        .into_iter()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .collect();
    if let Some(unknown) = roles.iter().find(|r| !ctx.config.policy.roles.contains(r)) {
        return Err(Fail::Usage(format!(
            "unknown role {unknown:?}: not in [roles] of {}",
            ctx.config.path.display()
        )));
    }
    let now = unix_now();
    let expires_at = match ttl {
        None => None,
        Some(t) => {
            let d = parse_duration(t).map_err(|e| Fail::Usage(format!("--ttl: {e}")))?;
            if d.as_secs() == 0 {
                return Err(Fail::Usage("--ttl: must be at least 1s".into()));
            }
            Some(now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)))
        }
    };
    let key = apikey::new_key();
    let rec = ApiKeyRecord {
        name: name.to_string(),
        roles,
        created: now,
        last_used: None,
        expires_at,
    };
    let created = ctx
        .store
        .create_api_key(&apikey::key_hash(&key), &rec)
        .await
        .map_err(store_failed)?;
    if !created {
        return Err(Fail::Runtime(format!(
            "an API key named {name:?} already exists; revoke it first"
        )));
    }
    tracing::info!(event = "apikey_created", username = %format!("{}{name}", apikey::IDENTITY_PREFIX), ip = "cli", roles = %rec.roles.join(","), reason = "created by operator", "API key created");
    println!("{key}");
    eprintln!("API key {name:?} created; it is shown only this once, store it now.");
    Ok(())
}

async fn apikey_list(ctx: &Ctx) -> Result<(), Fail> {
    let keys = ctx.store.list_api_keys().await.map_err(store_failed)?;
    let rows = keys
        .iter()
        .map(|k| {
            vec![
                k.name.clone(),
                k.roles.join(","),
                when(Some(k.created)),
                k.last_used
                    .map_or_else(|| "never".into(), |t| when(Some(t))),
                k.expires_at
                    .map_or_else(|| "never".into(), |t| when(Some(t))),
            ]
        })
        .collect();
    print!(
        "{}",
        table(&["NAME", "ROLES", "CREATED", "LAST USED", "EXPIRES"], rows)
    );
    Ok(())
}

pub fn sessions(config: &Path, cmd: SessionsCommand) -> i32 {
    with_store(config, |ctx| async move {
        match cmd {
            SessionsCommand::List { user } => {
                let (id, _) = ctx.user(&user)?;
                let list = ctx.store.list_sessions(&id).await.map_err(store_failed)?;
                let rows = list
                    .iter()
                    .map(|s| {
                        vec![
                            s.sid.clone(),
                            when(Some(s.created)),
                            when(Some(s.last_seen)),
                            s.ip.clone(),
                            s.user_agent.clone(),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    table(&["ID", "CREATED", "LAST SEEN", "IP", "USER AGENT"], rows)
                );
                Ok(())
            }
            SessionsCommand::Revoke {
                user: Some(user), ..
            } => {
                let (id, username) = ctx.user(&user)?;
                let n = ctx
                    .store
                    .delete_user_sessions(&id)
                    .await
                    .map_err(store_failed)?;
                tracing::info!(event = "session_revoked", username = %username, ip = "cli", count = n, reason = "operator revoked all sessions", "sessions revoked");
                println!("ended {n} session(s) of {username}");
                Ok(())
            }
            SessionsCommand::Revoke { id: Some(sid), .. } => {
                let session = ctx.store.get_session(&sid).await.map_err(store_failed)?;
                let ended = ctx.store.delete_session(&sid).await.map_err(store_failed)?;
                let Some(session) = session.filter(|_| ended) else {
                    return Err(Fail::Runtime(format!("no live session {sid:?}")));
                };
                tracing::info!(event = "session_revoked", username = %session.username, ip = "cli", count = 1, reason = "operator revoked session", "session revoked");
                println!("ended session {sid} of {}", session.username);
                Ok(())
            }
            SessionsCommand::Revoke { .. } => Err(Fail::Usage("give --user or --id".into())),
        }
    })
}

pub fn user(config: &Path, cmd: UserCommand) -> i32 {
    with_store(config, |ctx| async move {
        match cmd {
            UserCommand::Lock { user } => {
                let (id, username) = ctx.user(&user)?;
                let n = ctx.store.lock_user(&id).await.map_err(store_failed)?;
                tracing::warn!(event = "user_locked", username = %username, ip = "cli", reason = "locked by operator", "user locked");
                if n > 0 {
                    tracing::info!(event = "session_revoked", username = %username, ip = "cli", count = n, reason = "user locked", "sessions revoked");
                }
                println!("locked {username}; ended {n} session(s)");
                Ok(())
            }
            UserCommand::Unlock { user } => {
                let (id, username) = ctx.user(&user)?;
                let was = ctx.store.unlock_user(&id).await.map_err(store_failed)?;
                tracing::info!(event = "user_unlocked", username = %username, ip = "cli", reason = "unlocked by operator", "user unlocked");
                if was {
                    println!("unlocked {username}");
                } else {
                    println!("{username} was not locked");
                }
                Ok(())
            }
            UserCommand::TotpReset { user } => {
                let (id, username) = ctx.user(&user)?;
                let had = ctx.store.delete_totp(&id).await.map_err(store_failed)?;
                tracing::warn!(event = "totp_reset", username = %username, ip = "cli", reason = "reset by operator", "TOTP reset");
                if had {
                    println!("removed TOTP of {username}");
                } else {
                    println!("{username} had no TOTP");
                }
                Ok(())
            }
            UserCommand::History { user } => {
                let (id, _) = ctx.user(&user)?;
                let events = ctx
                    .store
                    .login_history(&id, crate::auth::history::KEEP)
                    .await
                    .map_err(store_failed)?;
                let rows = events
                    .into_iter()
                    .map(|e| {
                        vec![
                            when(Some(e.time)),
                            e.result,
                            e.ip,
                            e.provider,
                            if e.new_device {
                                "yes".into()
                            } else {
                                "-".into()
                            },
                            e.user_agent,
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    table(
                        &[
                            "TIME",
                            "RESULT",
                            "IP",
                            "PROVIDER",
                            "NEW DEVICE",
                            "USER AGENT"
                        ],
                        rows
                    )
                );
                Ok(())
            }
        }
    })
}

/// Unix seconds as RFC 3339 UTC.
fn when(ts: Option<i64>) -> String {
    use cookie::time::format_description::well_known::Rfc3339;
    use cookie::time::OffsetDateTime;
    ts.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "-".into())
}

/// Left-aligned columns, two spaces apart, header first.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.to_vec());
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["NAME", "ROLES"],
            vec![
                vec!["ci".into(), "service".into()],
                vec!["deploy-bot".into(), "".into()],
            ],
        );
        assert_eq!(t, "NAME        ROLES\nci          service\ndeploy-bot\n");
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(when(Some(0)), "1970-01-01T00:00:00Z");
        assert_eq!(when(Some(1_700_000_000)), "2023-11-14T22:13:20Z");
        assert_eq!(when(None), "-");
    }
}
