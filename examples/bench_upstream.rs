//! The upstream for `bench/run.sh`: answers every request with a small 200
//! (`ok\n`) over HTTP/1.1 keep-alive, as fast as hyper allows, so the numbers
//! measure the proxies in front of it and not the app.
//!
//! It echoes the `X-Auth-User` it received as `X-Seen-User`, so the script can
//! check before measuring that each auth target really forwards an identity.
//!
//! Usage: `bench_upstream LISTEN [THREADS]`, e.g. `bench_upstream 127.0.0.1:3000 1`.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

async fn answer(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut resp = Response::new(Full::new(Bytes::from_static(b"ok\n")));
    resp.headers_mut()
        .insert("content-type", http::HeaderValue::from_static("text/plain"));
    if let Some(user) = req.headers().get("x-auth-user") {
        resp.headers_mut().insert("x-seen-user", user.clone());
    }
    Ok(resp)
}

async fn serve(listen: String) -> std::io::Result<()> {
    let listener = TcpListener::bind(&listen).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            // A client hanging up mid-request is normal under load: ignore.
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await;
        });
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let listen = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:3000".to_string());
    let threads = args
        .get(2)
        .and_then(|t| t.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build();
    let result = match runtime {
        Ok(rt) => rt.block_on(serve(listen.clone())),
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        eprintln!("bench_upstream on {listen}: {e}");
        std::process::exit(1);
    }
}
