//! HTTP/2-over-TLS load for bench/run.sh (issue 13), printing wrk's summary
//! lines so the benchmark reads it like a wrk run.
//!
//! - `bench_h2 certs DIR`: write a CA (`ca.pem`) and a certificate for
//!   127.0.0.1 (`cert.pem`, `key.pem`) into DIR.
//! - `bench_h2 load URL CA CONNECTIONS STREAMS SECONDS [HEADER]`: keep
//!   CONNECTIONS TLS connections (ALPN h2) with STREAMS requests in flight on
//!   each, `GET URL` with an optional `Name: value` header, for SECONDS.
//!   Any answer other than 2xx counts as `Non-2xx`.

#[path = "support/wrk_report.rs"]
mod wrk_report;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

fn usage() -> ! {
    eprintln!(
        "usage: bench_h2 certs DIR | bench_h2 load URL CA CONNECTIONS STREAMS SECONDS [HEADER]"
    );
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("certs") if args.len() == 2 => certs(&args[1]),
        Some("load") if args.len() >= 6 => {
            let n = |i: usize| -> usize { args[i].parse().unwrap_or_else(|_| usage()) };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            let load = Load {
                url: args[1].parse().unwrap_or_else(|_| usage()),
                connections: n(3),
                streams: n(4),
                run: Duration::from_secs(n(5) as u64),
                header: args.get(6).cloned(),
            };
            rt.block_on(load.run(&args[2]));
        }
        _ => usage(),
    }
}

fn certs(dir: &str) {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    // Distinct names: a leaf whose issuer equals its subject is self-signed.
    ca.distinguished_name = rcgen::DistinguishedName::new();
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "gatehouse bench CA");
    let ca_cert = ca.self_signed(&ca_key).expect("CA");
    let key = rcgen::KeyPair::generate().expect("key");
    let leaf =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("params")
            .signed_by(&key, &ca_cert, &ca_key)
            .expect("certificate");
    let write = |name: &str, text: String| {
        std::fs::write(format!("{dir}/{name}"), text).expect("write");
    };
    write("ca.pem", ca_cert.pem());
    write("cert.pem", leaf.pem());
    write("key.pem", key.serialize_pem());
}

struct Load {
    url: http::Uri,
    connections: usize,
    streams: usize,
    run: Duration,
    header: Option<String>,
}

impl Load {
    async fn run(self, ca: &str) {
        let mut roots = RootCertStore::empty();
        let pem = std::fs::read(ca).expect("CA file");
        for cert in CertificateDer::pem_slice_iter(&pem) {
            roots.add(cert.expect("CA PEM")).expect("CA");
        }
        let mut config = ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let config = Arc::new(config);
        let authority = self.url.authority().expect("URL with host:port").as_str();
        let addr: SocketAddr = authority.parse().expect("URL host must be IP:PORT");
        let non_2xx = Arc::new(AtomicU64::new(0));
        let end = Instant::now() + self.run;
        let mut tasks = Vec::new();
        for _ in 0..self.connections {
            let tcp = TcpStream::connect(addr).await.expect("connect");
            let _ = tcp.set_nodelay(true);
            let name = ServerName::try_from(addr.ip().to_string()).expect("name");
            let tls = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name, tcp)
                .await
                .expect("TLS handshake");
            let (send, conn) = h2::client::handshake(tls).await.expect("h2 handshake");
            tokio::spawn(conn);
            for _ in 0..self.streams {
                let mut send = send.clone();
                let req = self.request();
                let non_2xx = non_2xx.clone();
                tasks.push(tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    while Instant::now() < end {
                        let sent = Instant::now();
                        let Ok(ready) = send.ready().await else { break };
                        send = ready;
                        let Ok((resp, _)) = send.send_request(req.clone(), true) else {
                            break;
                        };
                        let Ok(resp) = resp.await else { break };
                        if !resp.status().is_success() {
                            non_2xx.fetch_add(1, Ordering::Relaxed);
                        }
                        let mut body = resp.into_body();
                        while let Some(chunk) = body.data().await {
                            let Ok(chunk) = chunk else { break };
                            let _ = body.flow_control().release_capacity(chunk.len());
                        }
                        latencies.push(sent.elapsed().as_micros() as u64);
                    }
                    latencies
                }));
            }
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap_or_default());
        }
        wrk_report::print(&mut all, self.run, non_2xx.load(Ordering::Relaxed));
    }

    fn request(&self) -> http::Request<()> {
        let mut req = http::Request::get(self.url.clone());
        if let Some((name, value)) = self.header.as_deref().and_then(|h| h.split_once(':')) {
            req = req.header(name.trim(), value.trim());
        }
        req.body(()).expect("request")
    }
}
