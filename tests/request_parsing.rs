//! Request targets and framing (SPEC §7): paths are normalised before route
//! matching, unsafe ones are refused with 400, the query never takes part in
//! matching, matching is case-sensitive, and ambiguous message framing
//! (request smuggling) is refused with 400 and a closed connection. Raw
//! HTTP throughout: reqwest would normalise these targets itself.

mod common;

use common::http::plain_client;
use common::{login, raw, Echo, Rig, StoreKind, ALICE_PW, BOB_PW};

// One gateway for all path and framing cases.
#[tokio::test]
async fn paths_are_normalised_or_refused() {
    let rig = Rig::start(StoreKind::Memory).await;
    let c = plain_client(None);
    let bob = format!(
        "Bearer {}",
        login(&c, &rig.base(), "bob", BOB_PW).await.access_token
    );
    let alice = format!(
        "Bearer {}",
        login(&c, &rig.base(), "alice", ALICE_PW).await.access_token
    );
    let addr = rig.gw.http_addr();
    let get = |target: &str, auth: &str| {
        let (target, auth) = (target.to_string(), auth.to_string());
        async move { raw::get(addr, &target, &[("Authorization", auth.as_str())]).await }
    };

    // Controls: bob may read /public and /app, not /admin; alice may.
    assert_eq!(get("/public/x", &bob).await.status, 200);
    assert_eq!(get("/admin", &bob).await.status, 403);
    assert_eq!(get("/admin/x", &alice).await.status, 200);

    let before = rig.echo.hits();
    // Disguised /admin paths still match `/admin/**` after normalisation.
    for target in [
        "//admin",
        "//admin/x",
        "/x/../admin",
        "/x/../admin/y",
        "/./admin",
        "/admin/./x",
        "/public/../admin",
        "/public/x/../../admin/y",
        "/%61dmin",
        "/%61dmin/x",
        "/%61%64%6d%69%6e/x",
        "///admin//x",
    ] {
        let r = get(target, &bob).await;
        assert_eq!(r.status, 403, "{target} as bob: {r:?}");
    }
    // Whatever else they do, these must not reach the upstream for bob.
    for target in [
        "/%2e%2e/admin",
        "/public/%2e%2e/admin",
        "/public/%2E%2E/admin/x",
        "/public/.%2e/admin",
    ] {
        let r = get(target, &bob).await;
        assert!(matches!(r.status, 400 | 403), "{target} as bob: {r:?}");
    }
    // Paths that cannot be normalised safely.
    for target in [
        "/admin%2f",
        "/admin%2Fx",
        "/public%2f..%2fadmin",
        "/public/..%2fadmin",
        "/a%5cb",
        "/a%5Cb",
        "/public/..%5cadmin",
        "/a%00",
        "/a%00b",
        "/a%23b",
        "/a#b",
        "/public/x#frag",
    ] {
        let r = get(target, &bob).await;
        assert_eq!(r.status, 400, "{target}: {r:?}");
    }
    // `;parameters`: Tomcat, Jetty and Spring serve `/admin;x/secret` as
    // `/admin/secret`, which the `/**` catch-all would have let bob reach.
    // A path whose route changes without its parameters is refused.
    for target in [
        "/admin;x/secret",
        "/admin;jsessionid=0123/x",
        "/admin;/x",
        "/;x/admin/x",
        "/x;y/../admin;z/x",
        "/public;x/y",
    ] {
        let r = get(target, &bob).await;
        assert_eq!(r.status, 400, "{target} as bob: {r:?}");
    }
    // A target that is not origin-form.
    let absolute = format!("http://{addr}/public/x");
    for target in [absolute.as_str(), "*", "public/x"] {
        let r = get(target, &bob).await;
        assert_eq!(r.status, 400, "{target}: {r:?}");
    }
    // The query string takes no part in matching.
    assert_eq!(get("/admin?next=/public/x", &bob).await.status, 403);
    assert_eq!(get("/admin/x?/public/", &bob).await.status, 403);
    assert_eq!(
        rig.echo.hits(),
        before,
        "a refused request reached the upstream"
    );
    let ok = get("/public/x?/admin", &bob).await;
    let e = Echo::parse(&serde_json::from_str(&ok.body).expect("echo"));
    assert!(e.path.starts_with("/public/x?"), "{}", e.path);

    // Matching is case-sensitive: /ADMIN is not /admin/** (the `/**`
    // catch-all lets any signed-in user through).
    let r = get("/ADMIN/x", &bob).await;
    assert_eq!(r.status, 200, "{r:?}");
    // Parameters that leave the route unchanged pass, untouched.
    let r = get("/app;id=3/x", &bob).await;
    assert_eq!(r.status, 200, "{r:?}");
    let e = Echo::parse(&serde_json::from_str(&r.body).expect("echo"));
    assert_eq!(e.path, "/app;id=3/x");
    // alice's disguised path reaches the upstream as the admin route.
    assert_eq!(get("/x/../admin/x", &alice).await.status, 200);
}

// Conflicting or unknown framing is refused and the connection closed.
#[tokio::test]
async fn smuggling_shapes_get_400_and_close() {
    let rig = Rig::start(StoreKind::Memory).await;
    let c = plain_client(None);
    let token = login(&c, &rig.base(), "bob", BOB_PW).await.access_token;
    let addr = rig.gw.http_addr();
    let head = |framing: &str| {
        format!("POST /app/x HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n{framing}\r\n")
    };
    let cases = [
        (
            "Content-Length and Transfer-Encoding",
            head("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n") + "0\r\n\r\n",
        ),
        (
            "Transfer-Encoding and Content-Length",
            head("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n") + "0\r\n\r\n",
        ),
        (
            "two Content-Length",
            head("Content-Length: 5\r\nContent-Length: 6\r\n") + "hello!",
        ),
        (
            "two equal Content-Length",
            head("Content-Length: 5\r\nContent-Length: 5\r\n") + "hello",
        ),
        (
            "gzip transfer coding",
            head("Transfer-Encoding: gzip\r\n") + "0\r\n\r\n",
        ),
        (
            "gzip, chunked",
            head("Transfer-Encoding: gzip, chunked\r\n") + "0\r\n\r\n",
        ),
        (
            "identity transfer coding",
            head("Transfer-Encoding: identity\r\n") + "0\r\n\r\n",
        ),
        (
            "two Host headers",
            head("Host: internal.example\r\nContent-Length: 0\r\n"),
        ),
        (
            "obsolete line folding of Transfer-Encoding",
            head("Transfer-Encoding: gzip,\r\n chunked\r\n") + "0\r\n\r\n",
        ),
        (
            "space before the colon",
            head("Transfer-Encoding : chunked\r\nContent-Length: 5\r\n") + "0\r\n\r\n",
        ),
    ];
    let before = rig.echo.hits();
    for (name, request) in cases {
        let r = raw::send(addr, request.as_bytes()).await;
        assert_eq!(r.status, 400, "{name}: {r:?}");
        assert!(r.closed, "{name}: connection left open after 400");
    }
    assert_eq!(
        rig.echo.hits(),
        before,
        "a smuggling attempt reached the upstream"
    );

    // Control: well-formed bodies pass, both ways.
    for framing in [
        "Content-Length: 5\r\n\r\nhello",
        "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ] {
        let request = format!(
            "POST /app/x HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n{framing}"
        );
        let r = raw::send(addr, request.as_bytes()).await;
        assert_eq!(r.status, 200, "{framing:?}: {r:?}");
        let e = Echo::parse(&serde_json::from_str(&r.body).expect("echo"));
        assert_eq!(e.body, "hello");
    }
}
