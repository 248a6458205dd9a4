//! Command line (SPEC §1): `check` reports config problems as file:line and
//! exits 2, `hash-password` reads stdin and prints argon2id, `keys generate`
//! writes a usable Ed25519 key pair and never overwrites one.

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::gateway::BIN;
use common::{jwt, EchoUpstream, Gateway};

fn gatehouse(args: &[&str], cwd: &Path, stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run gatehouse");
    let mut pipe = child.stdin.take().expect("stdin");
    if let Some(input) = stdin {
        pipe.write_all(input.as_bytes()).expect("write stdin");
    }
    drop(pipe);
    child.wait_with_output().expect("gatehouse output")
}

/// The 1-based line of the first line of `config` that contains `needle`.
fn line_in(config: &Path, needle: &str) -> usize {
    let text = std::fs::read_to_string(config).expect("read config");
    1 + text
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} not in config"))
}

/// `msg` has a `gateway.toml:LINE: KEY: ...` line saying `what`.
fn assert_reported(msg: &str, line: usize, key: &str, what: &str) {
    let want = format!("gateway.toml:{line}: {key}: ");
    assert!(
        msg.lines().any(|l| l.contains(&want) && l.contains(what)),
        "want {want}...{what} in:\n{msg}"
    );
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

// `check` passes a valid config and names file, line and key of an unknown one.
#[test]
fn check_reports_unknown_key_with_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let echo = EchoUpstream::spawn();
    let config = Gateway::builder()
        .upstream(&echo)
        .write_files(dir.path(), 18080, None);
    let config_arg = config.to_str().expect("utf-8 path");

    let ok = gatehouse(&["check", "--config", config_arg], dir.path(), None);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "valid config refused:\n{}",
        text(&ok)
    );

    // Line 2, right under [server]: a typo of `listen`.
    let good = std::fs::read_to_string(&config).expect("read config");
    assert!(good.starts_with("[server]\n"), "{good}");
    let bad = good.replacen("[server]\n", "[server]\nlistn = \"127.0.0.1:1\"\n", 1);
    std::fs::write(&config, bad).expect("write config");
    let out = gatehouse(&["check", "--config", config_arg], dir.path(), None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let msg = text(&out);
    assert!(msg.contains("gateway.toml:2:"), "no file:line in:\n{msg}");
    assert!(msg.contains("listn"), "key not named in:\n{msg}");

    // A bad password hash in users.toml is a config error too (SPEC §3).
    std::fs::write(&config, &good).expect("restore config");
    let users = std::fs::read_to_string(dir.path().join("users.toml")).expect("users");
    let bcrypt = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
    let first_hash = users
        .lines()
        .find(|l| l.starts_with("password_hash"))
        .expect("hash line");
    std::fs::write(
        dir.path().join("users.toml"),
        users.replacen(first_hash, &format!("password_hash = \"{bcrypt}\""), 1),
    )
    .expect("write users");
    let out = gatehouse(&["check", "--config", config_arg], dir.path(), None);
    assert_eq!(
        out.status.code(),
        Some(2),
        "bcrypt hash accepted:\n{}",
        text(&out)
    );
    assert!(text(&out).contains("users.toml"), "{}", text(&out));
}

// A missing config file and a usage error both exit 2.
#[test]
fn check_missing_config_and_bad_usage_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = gatehouse(&["check", "--config", "nope.toml"], dir.path(), None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("nope.toml"), "{}", text(&out));
    let out = gatehouse(&["no-such-command"], dir.path(), None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

// `hash-password` reads the password from stdin and prints a verifiable
// argon2id PHC string.
#[test]
fn hash_password_prints_argon2id_for_stdin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = gatehouse(
        &["hash-password"],
        dir.path(),
        Some("correct horse battery\n"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let hash = stdout.trim();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(
        common::users::verify_password(hash, "correct horse battery"),
        "hash does not verify: {hash}"
    );
    assert!(
        !text(&out).contains("correct horse"),
        "the password was echoed"
    );
}

// `keys generate` writes an Ed25519 key pair (private key 0600) and refuses
// to overwrite it.
#[test]
fn keys_generate_creates_a_key_pair_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = dir.path().join("keys");
    let out = gatehouse(
        &["keys", "generate", "--out", keys.to_str().expect("utf-8")],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let private = keys.join("signing.pem");
    let public = keys.join("signing.pub.pem");
    let key = jwt::load_signing_key(&private);
    let pub_pem = std::fs::read_to_string(&public).expect("public key file");
    assert!(
        pub_pem.contains("PUBLIC KEY") && !pub_pem.contains("PRIVATE"),
        "{pub_pem}"
    );
    {
        use ed25519_dalek::pkcs8::DecodePublicKey as _;
        let vk =
            ed25519_dalek::VerifyingKey::from_public_key_pem(&pub_pem).expect("Ed25519 SPKI PEM");
        assert_eq!(vk, key.verifying_key(), "the pair does not match");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&private)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "private key readable by others: {mode:o}");
    }

    let before = std::fs::read(&private).expect("read");
    let out = gatehouse(
        &["keys", "generate", "--out", keys.to_str().expect("utf-8")],
        dir.path(),
        None,
    );
    assert_ne!(
        out.status.code(),
        Some(0),
        "overwrote an existing key:\n{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read(&private).expect("read"),
        before,
        "the existing key changed"
    );
}

// An upstream name that does not resolve is a config error with its line,
// for `check` and for `run` (exit 2), never a panic.
#[test]
fn unresolvable_upstream_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("gateway.toml");
    common::gateway::generate_keys(&dir.path().join("keys"));
    std::fs::write(dir.path().join("users.toml"), "").unwrap();
    std::fs::write(
        &cfg,
        "[server]\nlisten = \"127.0.0.1:0\"\n[users]\nfile = \"users.toml\"\n[tokens]\nsigning_key_file = \"keys/signing.pem\"\n\
         [upstreams.app]\n# the app\naddr = \"no-such-host.invalid:3000\"\n[[routes]]\npath = \"/**\"\nupstream = \"app\"\n",
    )
    .unwrap();
    for cmd in ["check", "run"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args([cmd, "--config"])
            .arg(&cfg)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert!(
            err.contains("gateway.toml:9: upstreams.app.addr"),
            "{cmd}: {err}"
        );
        assert!(!err.contains("panicked"), "{cmd}: {err}");
    }
}

// `check` names every owner-route mistake (issue 12 point 3) by file, line
// and key, all in one run: a capture `owner` uses but `path` lacks, a
// capture named twice, a field that is not id/username/email.
#[test]
fn check_reports_owner_route_mistakes_with_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let echo = EchoUpstream::spawn();
    let routes = "[[routes]]\npath = \"/users/{uid}/**\"\nupstream = \"app\"\nowner = { id = \"id\" }\n\n\
                  [[routes]]\npath = \"/a/{x}/b/{x}\"\nupstream = \"app\"\nowner = { x = \"id\" }\n\n\
                  [[routes]]\npath = \"/m/{addr}\"\nupstream = \"app\"\nowner = { addr = \"mail\" }\n";
    let config = Gateway::builder()
        .upstream(&echo)
        .routes_first(routes)
        .write_files(dir.path(), 18080, None);
    let line_of = |needle: &str| line_in(&config, needle);
    let out = gatehouse(
        &["check", "--config", config.to_str().expect("utf-8")],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let msg = text(&out);
    for (needle, key, what) in [
        ("owner = { id", "routes[0].owner.id", "{id} is not captured"),
        (
            "/a/{x}/b/{x}",
            "routes[1].path",
            "capture {x} appears twice",
        ),
        (
            "\"mail\"",
            "routes[2].owner.addr",
            "unknown identity field \"mail\"",
        ),
    ] {
        assert_reported(&msg, line_of(needle), key, what);
    }
}

// `check` names every `[[oidc]]` mistake (issue 16) by file, line and key:
// an id that cannot be a URL segment, a plain-http issuer off loopback, a
// client secret variable that is not set, a role that does not exist, a
// malformed email domain, a typo'd key; and passes a good provider.
#[test]
fn check_reports_oidc_mistakes_with_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let echo = EchoUpstream::spawn();
    let good =
        "[[oidc]]\nid = \"corp\"\nissuer = \"https://idp.example.com\"\nclient_id = \"gh\"\n\
                role_map = { \"staff\" = \"user\" }\n\n";
    let config =
        Gateway::builder()
            .upstream(&echo)
            .extra(good)
            .write_files(dir.path(), 18080, None);
    let arg = config.to_str().expect("utf-8");
    let ok = gatehouse(&["check", "--config", arg], dir.path(), None);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));

    let bad =
        "[[oidc]]\nid = \"Corp SSO\"\nissuer = \"http://idp.example.com\"\nclient_id = \"gh\"\n\
               client_secret_env = \"GH_CLI_TEST_UNSET_SECRET\"\n\
               role_map = { \"staff\" = \"nosuchrole\" }\n\
               allowed_email_domains = [\"not a domain\"]\n\n\
               [[oidc]] # second\nid = \"second\"\nisuer = \"https://x.example.com\"\n";
    let config = Gateway::builder()
        .upstream(&echo)
        .extra(bad)
        .write_files(dir.path(), 18080, None);
    let line_of = |needle: &str| line_in(&config, needle);
    let out = gatehouse(&["check", "--config", arg], dir.path(), None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let msg = text(&out);
    // An unknown key stops parsing first (serde), as for every section.
    let want = format!("gateway.toml:{}:", line_of("isuer"));
    assert!(
        msg.contains(&want) && msg.contains("isuer"),
        "want {want} isuer in:\n{msg}"
    );

    let bad = bad.replace("isuer", "issuer");
    let config =
        Gateway::builder()
            .upstream(&echo)
            .extra(&bad)
            .write_files(dir.path(), 18080, None);
    let out = gatehouse(&["check", "--config", arg], dir.path(), None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let msg = text(&out);
    let line_of = |needle: &str| line_in(&config, needle);
    for (needle, key, what) in [
        ("\"Corp SSO\"", "oidc[0].id", "use 1 to 64 of a-z"),
        ("http://idp.example.com", "oidc[0].issuer", "https"),
        (
            "GH_CLI_TEST_UNSET_SECRET",
            "oidc[0].client_secret_env",
            "is not set",
        ),
        ("nosuchrole", "oidc[0].role_map.staff", "unknown role"),
        (
            "not a domain",
            "oidc[0].allowed_email_domains[0]",
            "is not a domain",
        ),
        ("[[oidc]] # second", "oidc[1].client_id", "missing"),
    ] {
        assert_reported(&msg, line_of(needle), key, what);
    }
}

// `check` names file, line and key of bad `[passwords]` values (SPEC §14).
#[test]
fn check_reports_bad_password_policy_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let echo = EchoUpstream::spawn();
    let config = Gateway::builder()
        .upstream(&echo)
        .write_files(dir.path(), 18081, None);
    let config_arg = config.to_str().expect("utf-8 path");
    let good = std::fs::read_to_string(&config).expect("read config");
    let cases = [
        ("min_length = 0", "passwords.min_length"),
        ("min_score = 5", "passwords.min_score"),
        ("max_length = 2000", "passwords.max_length"),
        ("min_length = 20\nmax_length = 16", "passwords.max_length"),
        ("min_lenght = 12", "min_lenght"),
    ];
    for (body, key) in cases {
        let lines_before = good.lines().count();
        std::fs::write(&config, format!("{good}\n[passwords]\n{body}\n")).expect("write");
        let out = gatehouse(&["check", "--config", config_arg], dir.path(), None);
        let msg = text(&out);
        assert_eq!(out.status.code(), Some(2), "{body} accepted:\n{msg}");
        assert!(msg.contains(key), "{body}: key {key} not named:\n{msg}");
        // The bad key's own line: after the old text, a blank and the header.
        let bad_line = lines_before
            + 3
            + body
                .lines()
                .position(|l| l.starts_with(key.trim_start_matches("passwords.")))
                .unwrap_or(0);
        assert!(
            msg.contains(&format!("gateway.toml:{bad_line}:")),
            "{body}: no gateway.toml:{bad_line}: in:\n{msg}"
        );
    }
    std::fs::write(
        &config,
        format!("{good}\n[passwords]\nmin_length = 8\nmax_length = 64\nmin_score = 2\n"),
    )
    .expect("write");
    let out = gatehouse(&["check", "--config", config_arg], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

// `hash-password` applies `[passwords]` unless `--allow-weak` (SPEC §14).
#[test]
fn hash_password_refuses_weak_passwords() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (pw, rule) in [
        ("short", "min_length"),
        ("password1234", "common"),
        ("aaaaaaaaaaaa", "score"),
    ] {
        let out = gatehouse(&["hash-password"], dir.path(), Some(&format!("{pw}\n")));
        assert_eq!(out.status.code(), Some(2), "{pw}: {}", text(&out));
        assert!(text(&out).contains(rule), "{pw}: {}", text(&out));
        assert!(!String::from_utf8_lossy(&out.stdout).contains("$argon2id$"));
        let out = gatehouse(
            &["hash-password", "--allow-weak"],
            dir.path(),
            Some(&format!("{pw}\n")),
        );
        assert_eq!(out.status.code(), Some(0), "{pw}: {}", text(&out));
        let hash = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(common::users::verify_password(&hash, pw), "{hash}");
    }
    let out = gatehouse(
        &["hash-password", "--username", "margaret"],
        dir.path(),
        Some("Margaret-in-the-garden\n"),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("personal"), "{}", text(&out));

    // The config's policy, when there is one.
    let echo = EchoUpstream::spawn();
    let config = Gateway::builder()
        .upstream(&echo)
        .write_files(dir.path(), 18082, None);
    let good = std::fs::read_to_string(&config).expect("read config");
    std::fs::write(&config, format!("{good}\n[passwords]\nmin_length = 30\n")).expect("write");
    // Before the users file exists (hash-password is how it gets written).
    std::fs::remove_file(dir.path().join("users.toml")).expect("rm users");
    let config_arg = config.to_str().expect("utf-8 path");
    let out = gatehouse(
        &["hash-password", "--config", config_arg],
        dir.path(),
        Some("correct horse battery staple\n"),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("min_length"), "{}", text(&out));
    let out = gatehouse(
        &["hash-password", "--config", config_arg],
        dir.path(),
        Some("correct horse battery staple, and then some\n"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

// `check` refuses a named previous key that is missing or of another type,
// at the line of `previous_keys` (SPEC §14); `keys rotate` keeps the old one.
#[test]
fn check_and_rotate_previous_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let echo = EchoUpstream::spawn();
    let config = Gateway::builder()
        .upstream(&echo)
        .write_files(dir.path(), 18083, None);
    let config_arg = config.to_str().expect("utf-8 path");
    let good = std::fs::read_to_string(&config).expect("read config");
    let with = |line: &str| good.replacen("[tokens]\n", &format!("[tokens]\n{line}\n"), 1);
    let bad = with("previous_keys = [\"keys/missing.pem\"]");
    let line = bad
        .lines()
        .position(|l| l.starts_with("previous_keys"))
        .expect("line")
        + 1;
    std::fs::write(&config, &bad).expect("write");
    let out = gatehouse(&["check", "--config", config_arg], dir.path(), None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("gateway.toml:{line}:")),
        "{}",
        text(&out)
    );
    std::fs::write(dir.path().join("keys/wrong.pem"), "not a key").expect("write");
    std::fs::write(&config, with("previous_keys = [\"keys/wrong.pem\"]")).expect("write");
    let out = gatehouse(&["check", "--config", config_arg], dir.path(), None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    std::fs::remove_file(dir.path().join("keys/wrong.pem")).expect("rm");

    std::fs::write(&config, &good).expect("restore");
    let keys = dir.path().join("keys");
    let out = gatehouse(
        &["keys", "rotate", "--dir", keys.to_str().expect("utf-8")],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let previous: Vec<_> = std::fs::read_dir(keys.join("previous"))
        .expect("previous/")
        .filter_map(|e| e.ok())
        .collect();
    assert_eq!(previous.len(), 1);
    let out = gatehouse(&["check", "--config", config_arg], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = gatehouse(&["keys", "rotate", "--dir", "nowhere"], dir.path(), None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}
