//! WebSocket and other long-lived streams (SPEC §11, issue 13 point 3): the
//! upgrade is authenticated and authorized like any request; while the
//! socket is open its session (or API key) is re-checked every
//! `[session] stream_recheck`, and once it is logged out, locked or expired
//! the socket is closed at the next frame. A silent socket does not keep its
//! session alive; a chatty one does. An event stream is cut the same way.
//! Real WebSocket server and client (tokio-tungstenite), real gateway.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use common::http::plain_client;
use common::{login, send, Gateway, RedisServer, ALICE_PW, BOB_PW};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A WebSocket echo server: first sends `user=<X-Auth-User it saw>`, then
/// echoes every text message. Runs until the test's runtime ends.
async fn ws_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut user = String::from("none");
                // The callback's error type is tungstenite's own (large) one.
                #[allow(clippy::result_large_err)]
                let seen = |req: &Request, resp: Response| {
                    if let Some(v) = req.headers().get("x-auth-user") {
                        user = v.to_str().unwrap_or("bad").to_string();
                    }
                    Ok(resp)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, seen).await else {
                    return;
                };
                if ws
                    .send(Message::text(format!("user={user}")))
                    .await
                    .is_err()
                {
                    return;
                }
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_text() && ws.send(msg).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// A server-sent-events upstream: an event every 100 ms, forever.
async fn sse_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let start = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
                             Transfer-Encoding: chunked\r\n\r\n";
                if tcp.write_all(start.as_bytes()).await.is_err() {
                    return;
                }
                for i in 0u64.. {
                    let event = format!("data: {i}\n\n");
                    let chunk = format!("{:x}\r\n{event}\r\n", event.len());
                    if tcp.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
        }
    });
    addr
}

fn ws_url(gw: &Gateway, path: &str) -> String {
    format!("ws://127.0.0.1:{}{path}", gw.http_addr().port())
}

/// Open a WebSocket through the gateway with a bearer token.
async fn connect(gw: &Gateway, token: Option<&str>) -> Result<Socket, u16> {
    let mut req = ws_url(gw, "/ws").into_client_request().expect("request");
    if let Some(t) = token {
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {t}").parse().expect("value"),
        );
    }
    match tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(req),
    )
    .await
    .expect("handshake within 10 s")
    {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("handshake: {e}"),
    }
}

/// One text round trip; false when the socket is closed instead.
async fn round_trip(ws: &mut Socket, text: &str) -> bool {
    if ws.send(Message::text(text)).await.is_err() {
        return false;
    }
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Err(_) => panic!("no answer and no close within 5 s"),
            Ok(Some(Ok(Message::Text(t)))) => {
                assert_eq!(t.as_str(), text);
                return true;
            }
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(Message::Close(_))) | None | Some(Err(_))) => return false,
            Ok(Some(Ok(other))) => panic!("unexpected {other:?}"),
        }
    }
}

/// Keep sending a frame every 100 ms until the socket closes; the time it
/// took. Panics if it is still open after `within`.
async fn closed_within(ws: &mut Socket, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if !round_trip(ws, "still there?").await {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "socket still open after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn first_message(ws: &mut Socket) -> String {
    match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => t.to_string(),
        other => panic!("no greeting: {other:?}"),
    }
}

fn gateway(upstream: SocketAddr) -> common::GatewayBuilder {
    Gateway::builder()
        .upstream_addr(upstream)
        .set("session", "stream_recheck", "\"500ms\"")
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_is_authenticated_and_closed_after_logout() {
    let ws_addr = ws_server().await;
    let gw = gateway(ws_addr).spawn().await;
    let client = plain_client(None);

    // No credentials: the upgrade is refused (401), nothing reaches the app.
    assert_eq!(connect(&gw, None).await.err(), Some(401));
    // A forbidden user on an admin-only path: 403.
    let bob = login(&client, &gw.http_url(), "bob", BOB_PW).await;
    let mut req = ws_url(&gw, "/admin/ws").into_client_request().unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", bob.access_token).parse().unwrap(),
    );
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 403)
        }
        other => panic!("admin WebSocket for bob: {:?}", other.map(|_| ())),
    }

    // Authenticated: the app sees the identity; frames echo.
    let alice = login(&client, &gw.http_url(), "alice", ALICE_PW).await;
    let mut ws = connect(&gw, Some(&alice.access_token))
        .await
        .expect("upgrade");
    assert_eq!(first_message(&mut ws).await, "user=alice");
    for i in 0..5 {
        assert!(round_trip(&mut ws, &format!("hello {i}")).await);
    }
    // It outlives several re-checks while the session is alive.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(round_trip(&mut ws, "after re-checks").await);

    // Logout: closed within stream_recheck (500 ms) + one frame.
    let r = send(
        client
            .post(format!("{}/auth/logout", gw.http_url()))
            .bearer_auth(&alice.access_token),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let took = closed_within(&mut ws, Duration::from_secs(3)).await;
    assert!(took < Duration::from_millis(1500), "closed after {took:?}");
    assert!(gw.logs().contains("stream_closed"), "{}", gw.logs());

    // Bob's socket, on another session, is untouched.
    let mut ws = connect(&gw, Some(&bob.access_token)).await.expect("bob");
    assert_eq!(first_message(&mut ws).await, "user=bob");
    assert!(round_trip(&mut ws, "bob here").await);
}

/// `gatehouse user lock` (the admin CLI, on the shared Redis store) ends an
/// open socket the same way.
#[tokio::test(flavor = "multi_thread")]
async fn websocket_closed_after_user_lock() {
    let redis = RedisServer::spawn();
    let ws_addr = ws_server().await;
    let gw = gateway(ws_addr).redis(&redis).spawn().await;
    let client = plain_client(None);
    let alice = login(&client, &gw.http_url(), "alice", ALICE_PW).await;
    let mut ws = connect(&gw, Some(&alice.access_token))
        .await
        .expect("upgrade");
    assert_eq!(first_message(&mut ws).await, "user=alice");
    assert!(round_trip(&mut ws, "before").await);
    let out = gw.cli(&["user", "lock", "--user", "alice"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let took = closed_within(&mut ws, Duration::from_secs(3)).await;
    assert!(took < Duration::from_millis(1500), "closed after {took:?}");
}

/// The re-checks only read the session: a silent socket lets its session's
/// idle timeout run out (and is then closed at its next frame), a socket
/// the client keeps using keeps it alive.
#[tokio::test(flavor = "multi_thread")]
async fn silent_socket_does_not_keep_its_session_alive() {
    let ws_addr = ws_server().await;
    let gw = gateway(ws_addr)
        .set("session", "idle_timeout", "\"2s\"")
        .spawn()
        .await;
    let client = plain_client(None);

    let chatty = login(&client, &gw.http_url(), "alice", ALICE_PW).await;
    let mut ws = connect(&gw, Some(&chatty.access_token))
        .await
        .expect("upgrade");
    assert_eq!(first_message(&mut ws).await, "user=alice");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(4) {
        assert!(
            round_trip(&mut ws, "busy").await,
            "a used socket was closed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let silent = login(&client, &gw.http_url(), "bob", BOB_PW).await;
    let mut ws = connect(&gw, Some(&silent.access_token))
        .await
        .expect("upgrade");
    assert_eq!(first_message(&mut ws).await, "user=bob");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !round_trip(&mut ws, "anyone?").await,
        "expired session kept the socket"
    );
    // And the session itself is gone, not slid by the re-checks.
    let r = send(
        client
            .get(format!("{}/x", gw.http_url()))
            .bearer_auth(&silent.access_token),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.body);
}

/// A server-sent event stream is cut once its session is logged out.
#[tokio::test(flavor = "multi_thread")]
async fn event_stream_is_cut_after_logout() {
    let sse = sse_server().await;
    let gw = gateway(sse).spawn().await;
    let client = plain_client(None);
    let alice = login(&client, &gw.http_url(), "alice", ALICE_PW).await;
    let mut resp = client
        .get(format!("{}/events", gw.http_url()))
        .bearer_auth(&alice.access_token)
        .send()
        .await
        .expect("event stream");
    assert_eq!(resp.status().as_u16(), 200);
    let first = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
        .await
        .expect("first event within 5 s")
        .expect("chunk");
    assert!(first.is_some());
    let r = send(
        client
            .post(format!("{}/auth/logout", gw.http_url()))
            .bearer_auth(&alice.access_token),
    )
    .await;
    assert_eq!(r.status, 200);
    let logged_out = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match resp.chunk().await {
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => return,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "event stream still flowing 5 s after logout");
    assert!(logged_out.elapsed() < Duration::from_millis(1500));
}

/// An API key's socket (the key in `Authorization: ApiKey`, as clients of
/// the API send it) is closed once `gatehouse apikey revoke` ends the key.
#[tokio::test(flavor = "multi_thread")]
async fn websocket_on_an_api_key_closed_after_revoke() {
    let redis = RedisServer::spawn();
    let ws_addr = ws_server().await;
    let gw = gateway(ws_addr).redis(&redis).spawn().await;
    let key = gw.create_api_key("ws-client");
    let mut req = ws_url(&gw, "/ws").into_client_request().expect("request");
    req.headers_mut().insert(
        "authorization",
        format!("ApiKey {key}").parse().expect("value"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("upgrade");
    assert_eq!(first_message(&mut ws).await, "user=apikey:ws-client");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(round_trip(&mut ws, "still a live key").await);
    let out = gw.cli(&["apikey", "revoke", "--name", "ws-client"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let took = closed_within(&mut ws, Duration::from_secs(3)).await;
    assert!(took < Duration::from_millis(1500), "closed after {took:?}");
}
