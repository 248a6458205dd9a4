use super::*;

const HOSTILE: &[&str] = &[
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "' onmouseover='alert(1)",
    "</textarea><svg/onload=alert(1)>",
    "javascript:alert(1)//&amp;",
];

fn escaped_everywhere(html: &str, raw: &str) {
    assert!(!html.contains(raw), "raw {raw:?} in page:\n{html}");
}

#[test]
fn login_page_escapes_every_field() {
    for bad in HOSTILE {
        let buttons = [
            ProviderButton {
                id: bad.to_string(),
                name: bad.to_string(),
                available: true,
            },
            ProviderButton {
                id: "x".into(),
                name: bad.to_string(),
                available: false,
            },
        ];
        let page = LoginPage::new("/auth", bad, bad)
            .providers(&buttons)
            .failed(bad, *bad)
            .ask_code(bad, *bad);
        let html = page.render().expect("render");
        escaped_everywhere(&html, bad);
        assert!(html.contains("(unavailable)"));
    }
}

#[test]
fn login_page_shape() {
    let html = LoginPage::new("/auth", "/app?x=1", "tok")
        .render()
        .expect("render");
    assert!(html.contains(r#"<meta name="viewport""#));
    assert!(html.contains(r#"href="/auth/static/gatehouse.css""#));
    assert!(html.contains(r#"<label for="username">"#));
    assert!(html.contains(r#"name="csrf" value="tok""#));
    assert!(html.contains(r#"name="rd" value="/app?x=1""#));
    assert!(!html.contains("name=\"totp\""), "no code field until asked");
    assert!(!html.contains("<script"), "no JavaScript");
    let hidden = LoginPage::new("/auth", "/", "t")
        .show_local(false)
        .providers(&[ProviderButton {
            id: "corp".into(),
            name: "Corp SSO".into(),
            available: true,
        }])
        .render()
        .expect("render");
    assert!(!hidden.contains("<form"), "local form hidden");
    assert!(
        hidden.contains(r#"href="/auth/oidc/corp/start?rd=%2F""#),
        "{hidden}"
    );
}

#[test]
fn account_page_escapes_every_field() {
    for bad in HOSTILE {
        let roles = vec![bad.to_string()];
        let page = AccountPage {
            prefix: "/auth",
            csrf: bad,
            username: bad,
            email: bad,
            roles: &roles,
            sessions: vec![SessionRow {
                id: bad.to_string(),
                device: bad.to_string(),
                ip: bad.to_string(),
                last_seen: bad.to_string(),
                current: true,
            }],
            totp: TotpView::Pending(PendingTotp {
                secret: bad.to_string(),
                qr: bad.to_string(),
                uri: bad.to_string(),
            }),
            backup_codes: Some(vec![bad.to_string()]),
            totp_active: true,
            min_length: 12,
            max_length: 128,
            history: vec![HistoryRow {
                time: bad.to_string(),
                ip: bad.to_string(),
                user_agent: bad.to_string(),
                result: bad.to_string(),
                provider: bad.to_string(),
                new_device: true,
            }],
            notice: Some(bad),
            error: Some(bad.to_string()),
        };
        let html = page.render().expect("render");
        escaped_everywhere(&html, bad);
    }
}

#[test]
fn qr_is_an_svg_data_uri() {
    let uri =
        qr_data_uri("otpauth://totp/gatehouse:alice?secret=ABC&issuer=gatehouse").expect("qr");
    let b64 = uri
        .strip_prefix("data:image/svg+xml;base64,")
        .expect("prefix");
    use base64::Engine;
    let svg = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    assert!(String::from_utf8_lossy(&svg).contains("<svg"));
}

#[test]
fn times_read_well() {
    assert_eq!(when(0), "1970-01-01 00:00 UTC");
}
