//! Command line (SPEC §1). Exit codes: 0 ok, 1 runtime failure, 2 bad
//! config or usage. Store administration (API keys, sessions, users) lives
//! in `admin`.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::auth::keys::generate_ed25519;
use crate::auth::password::hash_password;
use crate::auth::password_policy::PasswordPolicy;
use crate::state::{load_all, AppState};

pub mod admin;

#[derive(Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Reverse-proxy authentication gateway"
)]
struct Cli {
    /// Path to gateway.toml.
    #[arg(long, global = true, default_value = "./gateway.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Start the gateway (the default).
    Run,
    /// Validate config, policy, users and keys; print problems with file and line.
    Check,
    /// Read a password from stdin and print its argon2id PHC hash. The
    /// password must pass `[passwords]` (of --config when it exists).
    HashPassword {
        /// Hash it even if it fails the password policy.
        #[arg(long)]
        allow_weak: bool,
        /// The user it is for: refuses a password that is their name.
        #[arg(long)]
        username: Option<String>,
    },
    /// Signing key management.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// API keys in the store (redis backend).
    Apikey {
        #[command(subcommand)]
        command: admin::ApiKeyCommand,
    },
    /// Users' sessions in the store (redis backend).
    Sessions {
        #[command(subcommand)]
        command: admin::SessionsCommand,
    },
    /// Admin locks and TOTP resets (redis backend).
    User {
        #[command(subcommand)]
        command: admin::UserCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create an Ed25519 signing key pair.
    Generate {
        /// Directory to write signing.pem and signing.pub.pem into.
        #[arg(long)]
        out: PathBuf,
    },
    /// Replace DIR/signing.pem with a new key of the same type, keeping the
    /// old public key in DIR/previous/<kid>.pub.pem; then SIGHUP.
    Rotate {
        #[arg(long)]
        dir: PathBuf,
    },
}

/// Run the CLI; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match cli.command.unwrap_or(Command::Run) {
        Command::Run => run(&cli.config),
        Command::Check => check(&cli.config),
        Command::HashPassword {
            allow_weak,
            username,
        } => hash_from_stdin(&cli.config, allow_weak, username.as_deref()),
        Command::Apikey { command } => admin_logging(|| admin::apikey(&cli.config, command)),
        Command::Sessions { command } => admin_logging(|| admin::sessions(&cli.config, command)),
        Command::User { command } => admin_logging(|| admin::user(&cli.config, command)),
        Command::Keys {
            command: KeysCommand::Rotate { dir },
        } => match crate::auth::keys::rotate(&dir) {
            Ok(r) => {
                println!(
                    "new signing key {}; previous key {} kept in {}; send SIGHUP to the gateway",
                    r.new_kid,
                    r.old_kid,
                    r.kept.display()
                );
                0
            }
            Err(e) => {
                eprintln!("gatehouse: {e}");
                1
            }
        },
        Command::Keys {
            command: KeysCommand::Generate { out },
        } => match generate_ed25519(&out) {
            Ok(path) => {
                println!("wrote {}", path.display());
                0
            }
            Err(e) => {
                eprintln!("gatehouse: {e}");
                1
            }
        },
    }
}

/// Admin commands log their audit events like the gateway does.
fn admin_logging(f: impl FnOnce() -> i32) -> i32 {
    init_logging();
    f()
}

/// JSON log lines on stderr; readable text when stderr is a terminal.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        builder.init();
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init();
    }
}

fn run(config: &Path) -> i32 {
    init_logging();
    match load_all(config).and_then(|(config, users, keys)| AppState::new(config, users, keys)) {
        Ok(state) => {
            // Build the dummy hash now, not on the first unknown-user login.
            crate::auth::password::warm_up();
            crate::server::run(Arc::new(state));
        }
        Err(e) => {
            eprintln!("{e}");
            2
        }
    }
}

fn check(config: &Path) -> i32 {
    let loaded = load_all(config).and_then(|(config, users, _keys)| {
        crate::state::pools(&config.policy, &config.path, None).map(|_| (config, users))
    });
    match loaded {
        Ok((config, users)) => {
            println!(
                "{}: ok ({} routes, {} upstreams, {} users)",
                config.path.display(),
                config.policy.routes.routes.len(),
                config.policy.upstreams.len(),
                users.len()
            );
            0
        }
        Err(e) => {
            eprintln!("{e}");
            2
        }
    }
}

/// The `[passwords]` policy for `hash-password`: the config's when the
/// file exists (its `[passwords]` must be valid; the users file and keys it
/// names need not exist yet), else the defaults.
fn password_policy(config: &Path) -> Result<PasswordPolicy, i32> {
    if !config.exists() {
        return Ok(PasswordPolicy::default());
    }
    crate::config::compile::load_password_policy(config).map_err(|e| {
        eprintln!("{e}");
        2
    })
}

/// One line from stdin (no echo on a terminal), checked against the
/// password policy unless `allow_weak`, hashed with argon2id.
fn hash_from_stdin(config: &Path, allow_weak: bool, username: Option<&str>) -> i32 {
    let policy = match password_policy(config) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let password = if std::io::stdin().is_terminal() {
        match rpassword::prompt_password("Password: ") {
            Ok(p) => p,
            Err(e) => {
                eprintln!("gatehouse: cannot read password: {e}");
                return 1;
            }
        }
    } else {
        let mut s = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut s) {
            eprintln!("gatehouse: cannot read password: {e}");
            return 1;
        }
        s.strip_suffix('\n')
            .map(|t| t.strip_suffix('\r').unwrap_or(t))
            .unwrap_or(&s)
            .to_string()
    };
    if password.is_empty() {
        eprintln!("gatehouse: empty password");
        return 2;
    }
    if !allow_weak {
        let personal: Vec<&str> = username.into_iter().collect();
        if let Err(rule) = policy.check(&password, &personal) {
            eprintln!(
                "gatehouse: weak password ({}): {}; use --allow-weak to hash it anyway",
                rule.code(),
                policy.message(rule)
            );
            return 2;
        }
    }
    match hash_password(&password) {
        Ok(phc) => {
            println!("{phc}");
            0
        }
        Err(e) => {
            eprintln!("gatehouse: {e}");
            1
        }
    }
}
