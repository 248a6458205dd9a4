//! An HTTP/2 client on exactly one connection (the `h2` crate), over TLS
//! with ALPN `h2` (trusting only the test CA) or cleartext with prior
//! knowledge (h2c). Tests use it where the connection matters: many streams
//! on one connection, a `:path` sent as written (`..`, `%2f`), response
//! trailers. Every call is bounded.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use super::tls::TestCa;

const BOUND: Duration = Duration::from_secs(15);

/// One HTTP/2 connection; clone it to use it from several tasks.
#[derive(Clone)]
pub struct H2Conn {
    send: h2::client::SendRequest<Bytes>,
    /// `https` or `http`, for the request URIs.
    scheme: &'static str,
    authority: String,
}

/// A whole answer.
#[derive(Debug)]
pub struct H2Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub trailers: Option<HeaderMap>,
}

impl H2Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.text()))
    }
}

impl H2Conn {
    /// TLS to `addr`, offering only `h2`; returns the negotiated ALPN too.
    pub async fn tls(addr: SocketAddr, ca: &TestCa) -> (H2Conn, Option<Vec<u8>>) {
        let tls = tls_stream(addr, ca).await;
        let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        (Self::handshake(tls, "https", addr).await, alpn)
    }

    /// Cleartext HTTP/2 with prior knowledge.
    pub async fn h2c(addr: SocketAddr) -> H2Conn {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        Self::handshake(tcp, "http", addr).await
    }

    async fn handshake<T>(io: T, scheme: &'static str, addr: SocketAddr) -> H2Conn
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (send, conn) = tokio::time::timeout(BOUND, h2::client::handshake(io))
            .await
            .expect("h2 handshake within bound")
            .expect("h2 handshake");
        // The connection task ends with the connection (the test's runtime
        // drops it at the latest).
        tokio::spawn(async move {
            let _ = conn.await;
        });
        H2Conn {
            send,
            scheme,
            authority: addr.to_string(),
        }
    }

    /// A request builder for `path` (sent as written: no normalisation).
    pub fn request(&self, method: &str, path: &str) -> http::request::Builder {
        Request::builder()
            .method(method)
            .uri(format!("{}://{}{path}", self.scheme, self.authority))
    }

    /// Send `req` with `body` (None: END_STREAM on HEADERS) and read the
    /// whole answer and its trailers. Err: the stream or connection failed.
    pub async fn send(&self, req: Request<()>, body: Option<Bytes>) -> Result<H2Reply, h2::Error> {
        tokio::time::timeout(BOUND, self.exchange(req, body))
            .await
            .expect("HTTP/2 exchange within bound")
    }

    async fn exchange(&self, req: Request<()>, body: Option<Bytes>) -> Result<H2Reply, h2::Error> {
        let mut send = self.send.clone().ready().await?;
        let (resp, mut stream) = send.send_request(req, body.is_none())?;
        if let Some(body) = body {
            stream.send_data(body, true)?;
        }
        let resp = resp.await?;
        let (parts, mut recv) = resp.into_parts();
        let mut body = Vec::new();
        while let Some(chunk) = recv.data().await {
            let chunk = chunk?;
            let _ = recv.flow_control().release_capacity(chunk.len());
            body.extend_from_slice(&chunk);
        }
        let trailers = recv.trailers().await?;
        Ok(H2Reply {
            status: parts.status,
            headers: parts.headers,
            body: Bytes::from(body),
            trailers,
        })
    }

    /// `GET path` with these headers; panics if the stream fails.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> H2Reply {
        let mut b = self.request("GET", path);
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        let req = b.body(()).expect("request");
        self.send(req, None)
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }
}

/// A TLS connection to `addr` offering only ALPN `h2`, nothing sent on it
/// yet.
pub async fn tls_stream(
    addr: SocketAddr,
    ca: &TestCa,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = RootCertStore::empty();
    let der = CertificateDer::from_pem_slice(ca.ca_pem.as_bytes()).expect("CA PEM");
    roots.add(der).expect("add CA");
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("server name");
    tokio::time::timeout(
        BOUND,
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .expect("TLS handshake within bound")
    .expect("TLS handshake")
}
