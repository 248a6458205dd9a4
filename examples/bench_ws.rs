//! WebSocket round trips for bench/run.sh (issue 13): `serve ADDR` runs an
//! echo server; `load URL CONNECTIONS SECONDS [TOKEN]` keeps CONNECTIONS
//! sockets each sending one 32-byte text message and waiting for its echo,
//! for SECONDS, and prints wrk's summary lines (a round trip counting as a
//! request), so bench/run.sh reads it like a wrk run.

#[path = "support/wrk_report.rs"]
mod wrk_report;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

fn usage() -> ! {
    eprintln!("usage: bench_ws serve ADDR | bench_ws load URL CONNECTIONS SECONDS [TOKEN]");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match args.first().map(String::as_str) {
        Some("serve") if args.len() == 2 => rt.block_on(serve(&args[1])),
        Some("load") if args.len() >= 4 => {
            let n: usize = args[2].parse().unwrap_or_else(|_| usage());
            let secs: u64 = args[3].parse().unwrap_or_else(|_| usage());
            rt.block_on(load(&args[1], n, Duration::from_secs(secs), args.get(4)))
        }
        _ => usage(),
    }
}

async fn serve(addr: &str) {
    let listener = TcpListener::bind(addr).await.expect("bind");
    while let Ok((tcp, _)) = listener.accept().await {
        let _ = tcp.set_nodelay(true);
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            while let Some(Ok(msg)) = ws.next().await {
                if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                    return;
                }
            }
        });
    }
}

async fn load(url: &str, connections: usize, run: Duration, token: Option<&String>) {
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let mut req = url.into_client_request().expect("url");
        if let Some(t) = token {
            let value = format!("Bearer {t}").parse().expect("token");
            req.headers_mut().insert("authorization", value);
        }
        let (mut ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .unwrap_or_else(|e| {
                eprintln!("bench_ws: connect {url}: {e}");
                std::process::exit(1)
            });
        tasks.push(tokio::spawn(async move {
            let payload = "x".repeat(32);
            let mut latencies = Vec::new();
            let end = Instant::now() + run;
            while Instant::now() < end {
                let sent = Instant::now();
                if ws.send(Message::text(payload.clone())).await.is_err() {
                    break;
                }
                match ws.next().await {
                    Some(Ok(_)) => latencies.push(sent.elapsed().as_micros() as u64),
                    _ => break,
                }
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    wrk_report::print(&mut all, run, 0);
}
