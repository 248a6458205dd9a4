//! `BulkUpstream`: an upstream for body-size tests that never holds a body.
//! It counts request body bytes as they arrive (live, so a test can see how
//! much of a refused body got through) and answers `{"bytes": N}` once a
//! body is complete; `GET /download/N` streams N bytes back. Its own
//! thread and runtime, stopped on Drop, like `EchoUpstream`.
//!
//! `POST /early/...` answers at once, before reading the body, with a
//! chunked answer that ends only when the body has been read: the case of
//! a body refused after the answer has started.

use std::convert::Infallible;
use std::future::Future as _;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// The block every streamed answer is cut from (no allocation per chunk).
static BLOCK: [u8; 64 * 1024] = [b'x'; 64 * 1024];

#[derive(Default)]
struct Counters {
    /// Request body bytes received, over all requests, as they arrive.
    received: AtomicU64,
    /// Requests whose whole body was read.
    completed: AtomicUsize,
}

pub struct BulkUpstream {
    addr: SocketAddr,
    counters: Arc<Counters>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl BulkUpstream {
    pub fn spawn() -> BulkUpstream {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bulk: bind");
        listener.set_nonblocking(true).expect("bulk: nonblocking");
        let addr = listener.local_addr().expect("bulk: local_addr");
        let counters = Arc::new(Counters::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = counters.clone();
        let thread = std::thread::Builder::new()
            .name(format!("bulk-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("bulk: runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("bulk: listener");
                    tokio::select! {
                        _ = serve(listener, shared) => {}
                        _ = stopped => {}
                    }
                });
            })
            .expect("bulk: thread");
        BulkUpstream {
            addr,
            counters,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Request body bytes received so far (all requests).
    pub fn received(&self) -> u64 {
        self.counters.received.load(Ordering::SeqCst)
    }

    /// Requests whose body was read to its end.
    pub fn completed(&self) -> usize {
        self.counters.completed.load(Ordering::SeqCst)
    }
}

impl Drop for BulkUpstream {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(listener: tokio::net::TcpListener, counters: Arc<Counters>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        let counters = counters.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let counters = counters.clone();
                async move { Ok::<_, Infallible>(answer(req, counters).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(req: Request<Incoming>, counters: Arc<Counters>) -> Response<Stream> {
    let path = req.uri().path().to_string();
    if let Some(n) = path
        .rsplit_once("/download/")
        .and_then(|(_, n)| n.parse().ok())
    {
        return Response::new(Stream::Fixed { left: n });
    }
    let body = req.into_body();
    if path.starts_with("/early/") {
        let (done, wait) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let n = count(body, &counters).await;
            let _ = done.send(n);
        });
        return Response::new(Stream::Early {
            started: false,
            done: wait,
        });
    }
    let n = count(body, &counters).await;
    let json = format!("{{\"bytes\":{}}}", n.unwrap_or(0));
    Response::new(Stream::Once(Some(Bytes::from(json))))
}

/// Read a body to its end, counting as it comes; None if it broke off.
async fn count(mut body: Incoming, counters: &Counters) -> Option<u64> {
    let mut n = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.ok()?;
        if let Some(data) = frame.data_ref() {
            n += data.len() as u64;
            counters
                .received
                .fetch_add(data.len() as u64, Ordering::SeqCst);
        }
    }
    counters.completed.fetch_add(1, Ordering::SeqCst);
    Some(n)
}

/// The answers' bodies, streamed.
pub enum Stream {
    Once(Option<Bytes>),
    /// `left` bytes of `x`, in 64 KiB chunks.
    Fixed {
        left: u64,
    },
    /// "started\n" at once, then the end once the request body is read.
    Early {
        started: bool,
        done: tokio::sync::oneshot::Receiver<Option<u64>>,
    },
}

impl Body for Stream {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let data = match this {
            Stream::Once(b) => b.take(),
            Stream::Fixed { left } if *left == 0 => None,
            Stream::Fixed { left } => {
                let n = (*left).min(BLOCK.len() as u64) as usize;
                *left -= n as u64;
                Some(Bytes::from_static(&BLOCK[..n]))
            }
            Stream::Early { started, done } => {
                if !*started {
                    *started = true;
                    Some(Bytes::from_static(b"started\n"))
                } else {
                    return match Pin::new(done).poll(cx) {
                        Poll::Pending => Poll::Pending,
                        Poll::Ready(_) => Poll::Ready(None),
                    };
                }
            }
        };
        Poll::Ready(data.map(|d| Ok(Frame::data(d))))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Stream::Once(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Stream::Fixed { left } => SizeHint::with_exact(*left),
            Stream::Early { .. } => SizeHint::default(),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Stream::Once(b) => b.is_none(),
            Stream::Fixed { left } => *left == 0,
            Stream::Early { .. } => false,
        }
    }
}
