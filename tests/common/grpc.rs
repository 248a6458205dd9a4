//! A real gRPC service and client (tonic; prost messages derived by hand,
//! so no protoc). `GrpcEcho::spawn()` serves cleartext HTTP/2 (h2c) on an
//! ephemeral port, in its own thread and runtime like `EchoUpstream`, and
//! is stopped on Drop. Its answers say who the gateway said the caller is
//! (`x-auth-user`, `x-auth-roles`), and every answer's trailers carry, next
//! to tonic's `grpc-status`, the service's own `x-echo-trailer: served`.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tonic::metadata::MetadataMap;
use tonic::server::{ServerStreamingService, UnaryService};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

use super::tls::TestCa;

pub const UNARY: &str = "/gatehouse.test.Echo/Unary";
pub const STREAM: &str = "/gatehouse.test.Echo/Stream";

/// The trailer the service adds to every answer.
pub const TRAILER: &str = "x-echo-trailer";

#[derive(Clone, PartialEq, prost::Message)]
pub struct EchoRequest {
    #[prost(string, tag = "1")]
    pub message: String,
    /// Server streaming: how many replies.
    #[prost(uint32, tag = "2")]
    pub count: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct EchoReply {
    #[prost(string, tag = "1")]
    pub message: String,
    /// `x-auth-user` as the service received it ("" when absent).
    #[prost(string, tag = "2")]
    pub user: String,
    #[prost(string, tag = "3")]
    pub roles: String,
    #[prost(uint32, tag = "4")]
    pub seq: u32,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type ReplyStream = futures_util::stream::Iter<std::vec::IntoIter<Result<EchoReply, Status>>>;

fn reply(req: &Request<EchoRequest>, seq: u32) -> EchoReply {
    let get = |name: &str| {
        req.metadata()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    EchoReply {
        message: req.get_ref().message.clone(),
        user: get("x-auth-user"),
        roles: get("x-auth-roles"),
        seq,
    }
}

struct Unary;

impl UnaryService<EchoRequest> for Unary {
    type Response = EchoReply;
    type Future = BoxFuture<Result<Response<EchoReply>, Status>>;

    fn call(&mut self, req: Request<EchoRequest>) -> Self::Future {
        let r = reply(&req, 0);
        Box::pin(async move { Ok(Response::new(r)) })
    }
}

struct Streamed;

impl ServerStreamingService<EchoRequest> for Streamed {
    type Response = EchoReply;
    type ResponseStream = ReplyStream;
    type Future = BoxFuture<Result<Response<ReplyStream>, Status>>;

    fn call(&mut self, req: Request<EchoRequest>) -> Self::Future {
        let n = req.get_ref().count.min(100);
        let replies: Vec<_> = (0..n).map(|i| Ok(reply(&req, i))).collect();
        Box::pin(async move { Ok(Response::new(futures_util::stream::iter(replies))) })
    }
}

type Body = UnsyncBoxBody<Bytes, Status>;

/// One call: tonic's server side for the two methods, anything else
/// UNIMPLEMENTED; the service's trailer added to whatever tonic answers.
async fn handle(req: http::Request<Incoming>) -> http::Response<Body> {
    // Any service's `Unary` and `Stream` methods (the tests route several
    // service names to this one upstream).
    let method = req.uri().path().rsplit('/').next().unwrap_or_default();
    let resp = match method {
        "Unary" => {
            tonic::server::Grpc::new(ProstCodec::<EchoReply, EchoRequest>::default())
                .unary(Unary, req)
                .await
        }
        "Stream" => {
            tonic::server::Grpc::new(ProstCodec::<EchoReply, EchoRequest>::default())
                .server_streaming(Streamed, req)
                .await
        }
        _ => Status::unimplemented("no such method").into_http(),
    };
    resp.map(|body| {
        body.map_frame(|mut frame| {
            if let Some(trailers) = frame.trailers_mut() {
                trailers.insert(TRAILER, http::HeaderValue::from_static("served"));
            }
            frame
        })
        .boxed_unsync()
    })
}

async fn serve(
    listener: tokio::net::TcpListener,
    calls: Arc<AtomicUsize>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let calls = calls.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                calls.fetch_add(1, Ordering::SeqCst);
                async move { Ok::<_, Infallible>(handle(req).await) }
            });
            let http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
            let _ = match tls {
                // A handshake the client gives up on (an untrusted CA) ends here.
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(stream) => http2.serve_connection(TokioIo::new(stream), service).await,
                    Err(_) => return,
                },
                None => http2.serve_connection(TokioIo::new(stream), service).await,
            };
        });
    }
}

/// A TLS acceptor with `ca`'s leaf certificate (`localhost`, `127.0.0.1`),
/// offering ALPN h2 only.
fn tls_acceptor(ca: &TestCa) -> tokio_rustls::TlsAcceptor {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = vec![CertificateDer::from_pem_slice(ca.cert_pem.as_bytes()).expect("leaf PEM")];
    let key = PrivateKeyDer::from_pem_slice(ca.key_pem.as_bytes()).expect("key PEM");
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server certificate");
    config.alpn_protocols = vec![b"h2".to_vec()];
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// The gRPC echo service on 127.0.0.1 (h2c).
pub struct GrpcEcho {
    addr: SocketAddr,
    calls: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl GrpcEcho {
    pub fn spawn() -> GrpcEcho {
        Self::from_listener(std::net::TcpListener::bind("127.0.0.1:0").expect("grpc: bind"))
    }

    /// The same service over TLS (ALPN h2), with `ca`'s leaf certificate.
    pub fn spawn_tls(ca: &TestCa) -> GrpcEcho {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("grpc: bind");
        Self::serving(listener, Some(tls_acceptor(ca)))
    }

    /// Serve on an already bound socket (a restart on the same port).
    pub fn from_listener(listener: std::net::TcpListener) -> GrpcEcho {
        Self::serving(listener, None)
    }

    fn serving(
        listener: std::net::TcpListener,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> GrpcEcho {
        listener.set_nonblocking(true).expect("grpc: nonblocking");
        let addr = listener.local_addr().expect("grpc: local_addr");
        let calls = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let counted = calls.clone();
        let thread = std::thread::Builder::new()
            .name(format!("grpc-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("grpc: runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("grpc: listener");
                    tokio::select! {
                        _ = serve(listener, counted, tls) => {}
                        _ = stopped => {}
                    }
                });
            })
            .expect("grpc: thread");
        GrpcEcho {
            addr,
            calls,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Calls that reached the service.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Drop for GrpcEcho {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A tonic channel to `url` (`http://` is h2c with prior knowledge,
/// `https://` TLS with ALPN h2 trusting only `ca`); every call bounded.
pub async fn channel(url: &str, ca: Option<&TestCa>) -> Channel {
    let mut endpoint = Endpoint::from_shared(url.to_string())
        .expect("endpoint url")
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10));
    if let Some(ca) = ca {
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&ca.ca_pem))
            .domain_name("localhost");
        endpoint = endpoint.tls_config(tls).expect("tls config");
    }
    tokio::time::timeout(Duration::from_secs(10), endpoint.connect())
        .await
        .expect("connect within 10s")
        .unwrap_or_else(|e| panic!("connect to {url}: {e:?}"))
}

fn request(msg: EchoRequest, bearer: Option<&str>) -> Request<EchoRequest> {
    let mut req = Request::new(msg);
    if let Some(token) = bearer {
        let value = format!("Bearer {token}").parse().expect("metadata value");
        req.metadata_mut().insert("authorization", value);
    }
    req
}

/// A unary call to `path` (normally `UNARY`).
pub async fn unary(
    ch: &Channel,
    path: &'static str,
    bearer: Option<&str>,
    message: &str,
) -> Result<Response<EchoReply>, Status> {
    let mut client = tonic::client::Grpc::new(ch.clone());
    client
        .ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let msg = EchoRequest {
        message: message.to_string(),
        count: 0,
    };
    client
        .unary(
            request(msg, bearer),
            http::uri::PathAndQuery::from_static(path),
            ProstCodec::<EchoRequest, EchoReply>::default(),
        )
        .await
}

/// A server-streaming call to `STREAM`: every reply, then the trailers.
pub async fn streamed(
    ch: &Channel,
    bearer: Option<&str>,
    message: &str,
    count: u32,
) -> Result<(Vec<EchoReply>, MetadataMap), Status> {
    let mut client = tonic::client::Grpc::new(ch.clone());
    client
        .ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let msg = EchoRequest {
        message: message.to_string(),
        count,
    };
    let mut stream = client
        .server_streaming(
            request(msg, bearer),
            http::uri::PathAndQuery::from_static(STREAM),
            ProstCodec::<EchoRequest, EchoReply>::default(),
        )
        .await?
        .into_inner();
    let mut replies = Vec::new();
    while let Some(r) = stream.message().await? {
        replies.push(r);
    }
    let trailers = stream.trailers().await?.unwrap_or_default();
    Ok((replies, trailers))
}
