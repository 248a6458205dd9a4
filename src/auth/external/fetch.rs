//! Fetching a trusted issuer's JWKS from its `jwks_url`: bounded in time and
//! size, no redirects, no connection pool (fetches are rare and may run on
//! any of Pingora's runtimes). The caller keeps the old keys when a fetch
//! fails, so an IdP outage does not drop keys that were good a minute ago.

use std::time::Duration;

use jsonwebtoken::Algorithm;

use super::jwks::{parse_jwks, ParsedJwks};

/// Largest JWKS body read; real ones are a few KiB.
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// Bound on one whole fetch (connect, TLS, headers, body).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The HTTP client for JWKS fetches.
pub fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        // A redirect could lead from https to anywhere; jwks_url is checked
        // at load, so it must be the document itself.
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the JWKS HTTP client: {e}"))
}

/// GET `url` and parse the JWKS for `algorithms`.
pub async fn fetch_jwks(
    client: &reqwest::Client,
    url: &str,
    algorithms: &[Algorithm],
) -> Result<ParsedJwks, String> {
    let mut resp = client
        .get(url)
        .header(
            http::header::ACCEPT,
            "application/json, application/jwk-set+json",
        )
        .send()
        .await
        .map_err(|e| format!("request failed: {}", without_url(e)))?;
    if !resp.status().is_success() {
        return Err(format!("answered {}", resp.status()));
    }
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
    {
        return Err(format!("body larger than {MAX_JWKS_BYTES} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("reading the body failed: {}", without_url(e)))?
    {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(format!("body larger than {MAX_JWKS_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    parse_jwks(&body, algorithms)
}

/// reqwest's message and its causes, without the URL (the caller logs it
/// once).
fn without_url(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out: "
    } else if e.is_connect() {
        "cannot connect: "
    } else {
        ""
    };
    let e = e.without_url();
    let mut msg = format!("{kind}{e}");
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        msg.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A one-shot HTTP server answering every connection with `response`.
    async fn serve(response: Vec<u8>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let response = response.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    let _ = sock.write_all(&response).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        format!("http://{addr}/jwks.json")
    }

    fn answer(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
        let mut out =
            format!("HTTP/1.1 {status}\r\nconnection: close\r\n{headers}\r\n").into_bytes();
        out.extend_from_slice(body);
        out
    }

    fn jwks() -> Vec<u8> {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
        use base64::Engine;
        let x =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sk.verifying_key().as_bytes());
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": x}]})
            .to_string()
            .into_bytes()
    }

    #[tokio::test]
    async fn fetch_outcomes() {
        let body = jwks();
        let big = vec![b' '; MAX_JWKS_BYTES + 1];
        let cases: Vec<(Vec<u8>, Result<&str, &str>)> = vec![
            (
                answer(
                    "200 OK",
                    &format!("content-length: {}\r\n", body.len()),
                    &body,
                ),
                Ok("k1"),
            ),
            // No length: read to the end.
            (answer("200 OK", "", &body), Ok("k1")),
            (
                answer("404 Not Found", "content-length: 0\r\n", b""),
                Err("404"),
            ),
            (
                answer(
                    "302 Found",
                    "location: https://evil.example/\r\ncontent-length: 0\r\n",
                    b"",
                ),
                Err("302"),
            ),
            (
                answer(
                    "200 OK",
                    &format!("content-length: {}\r\n", big.len()),
                    &big,
                ),
                Err("larger than"),
            ),
            (answer("200 OK", "", &big), Err("larger than")),
            (answer("200 OK", "", b"<html>"), Err("not a JWKS")),
        ];
        let client = client().unwrap();
        for (response, want) in cases {
            let url = serve(response).await;
            let got = fetch_jwks(&client, &url, &[Algorithm::EdDSA]).await;
            match (got, want) {
                (Ok(p), Ok(kid)) => assert_eq!(p.keys.kids(), vec![kid]),
                (Err(e), Err(why)) => assert!(e.contains(why), "{e} lacks {why}"),
                (got, want) => panic!("{got:?}, want {want:?}"),
            }
        }
    }

    #[tokio::test]
    async fn nothing_listening_fails_fast() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = fetch_jwks(
            &client().unwrap(),
            &format!("http://127.0.0.1:{port}/"),
            &[Algorithm::EdDSA],
        )
        .await
        .unwrap_err();
        assert!(err.contains("cannot connect"), "{err}");
    }
}
