//! `FakeOp`: a tiny real OpenID Provider of the test's own, for the ID
//! tokens a certified provider cannot be made to send (wrong nonce,
//! audience or issuer, expired, unknown key, alg `none`) and for logout
//! tokens of any shape. It serves discovery, a JWKS with one Ed25519 key,
//! an authorization endpoint that redirects straight back with a code, and
//! a token endpoint whose ID token the test crafts (given the nonce the
//! gateway sent). A real HTTP server on loopback, in its own thread.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use ed25519_dalek::SigningKey;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

use super::jwt::{b64, forge, now, Sign};

pub const CLIENT_ID: &str = "gh-fake";
pub const KID: &str = "fake-1";

/// Makes the ID token: given the issuer and the nonce of the request.
pub type Craft = Box<dyn Fn(&FakeOpKeys, &str, &str) -> String + Send + Sync>;

pub struct FakeOpKeys {
    pub key: SigningKey,
    pub kid: String,
}

impl FakeOpKeys {
    /// A well-formed ID token for `sub` with extra claims merged in.
    pub fn id_token(&self, issuer: &str, nonce: &str, extra: Value) -> String {
        let mut claims = json!({
            "iss": issuer, "aud": CLIENT_ID, "sub": "fake-sub", "nonce": nonce,
            "iat": now(), "exp": now() + 300, "sid": "fake-sid",
            "email": "fake@corp.test", "email_verified": true,
            "preferred_username": "fakeuser", "groups": ["staff"],
        });
        merge(&mut claims, extra);
        self.sign(&claims)
    }

    pub fn sign(&self, claims: &Value) -> String {
        forge(
            &json!({"alg": "EdDSA", "kid": self.kid, "typ": "JWT"}),
            claims,
            Sign::Ed25519(&self.key),
        )
    }

    /// A back-channel logout token with `claims` merged into a valid one.
    pub fn logout_token(&self, issuer: &str, extra: Value) -> String {
        let mut claims = json!({
            "iss": issuer, "aud": CLIENT_ID, "iat": now(), "exp": now() + 120,
            "jti": format!("jti-{}", rand::random::<u64>()),
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        });
        merge(&mut claims, extra);
        forge(
            &json!({"alg": "EdDSA", "kid": self.kid, "typ": "logout+jwt"}),
            &claims,
            Sign::Ed25519(&self.key),
        )
    }
}

/// Merge `extra` into `base`; a null value removes the member.
pub fn merge(base: &mut Value, extra: Value) {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        for (k, v) in e {
            if v.is_null() {
                b.remove(&k);
            } else {
                b.insert(k, v);
            }
        }
    }
}

struct Shared {
    /// The current key (the only one the JWKS publishes).
    keys: Mutex<Arc<FakeOpKeys>>,
    issuer: String,
    craft: Mutex<Option<Craft>>,
    /// code -> nonce of its authorization request.
    codes: Mutex<HashMap<String, String>>,
    /// Token requests answered.
    exchanges: Mutex<usize>,
    /// Whether discovery names an end_session_endpoint.
    end_session: std::sync::atomic::AtomicBool,
}

pub struct FakeOp {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeOp {
    pub fn spawn() -> FakeOp {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("fake op bind");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("addr");
        let shared = Arc::new(Shared {
            keys: Mutex::new(Arc::new(FakeOpKeys {
                key: SigningKey::from_bytes(&rand::random::<[u8; 32]>()),
                kid: KID.to_owned(),
            })),
            issuer: format!("http://{addr}"),
            craft: Mutex::new(None),
            codes: Mutex::new(HashMap::new()),
            exchanges: Mutex::new(0),
            end_session: std::sync::atomic::AtomicBool::new(true),
        });
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let s = shared.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                tokio::select! {
                    _ = serve(listener, s) => {}
                    _ = stop_rx => {}
                }
            });
        });
        FakeOp {
            addr,
            shared,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn issuer(&self) -> String {
        self.shared.issuer.clone()
    }

    pub fn keys(&self) -> Arc<FakeOpKeys> {
        self.shared.keys.lock().expect("lock").clone()
    }

    /// Replace the signing key (and its kid): the JWKS publishes only the
    /// new one, as after a provider's key rotation.
    pub fn rotate(&self, kid: &str) {
        *self.shared.keys.lock().expect("lock") = Arc::new(FakeOpKeys {
            key: SigningKey::from_bytes(&rand::random::<[u8; 32]>()),
            kid: kid.to_owned(),
        });
    }

    /// How the next ID tokens are made: `(keys, issuer, nonce) -> JWT`.
    pub fn craft(&self, f: impl Fn(&FakeOpKeys, &str, &str) -> String + Send + Sync + 'static) {
        *self.shared.craft.lock().expect("lock") = Some(Box::new(f));
    }

    /// Offer (or stop offering) an end_session_endpoint in discovery.
    pub fn set_end_session(&self, on: bool) {
        self.shared
            .end_session
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn exchanges(&self) -> usize {
        *self.shared.exchanges.lock().expect("lock")
    }
}

impl Drop for FakeOp {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let shared = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(answer(req, &shared).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn reply(status: u16, ct: &str, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", ct)
        .body(Full::new(Bytes::from(body)))
        .expect("response")
}

async fn answer(req: Request<Incoming>, s: &Shared) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let params: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let iss = &s.issuer;
    match path.as_str() {
        "/.well-known/openid-configuration" => reply(
            200,
            "application/json",
            discovery(
                s,
                json!({
                    "issuer": iss,
                    "authorization_endpoint": format!("{iss}/authorize"),
                    "token_endpoint": format!("{iss}/token"),
                    "jwks_uri": format!("{iss}/jwks"),
                    "end_session_endpoint": format!("{iss}/logout"),
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["EdDSA"],
                    "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                }),
            )
            .to_string(),
        ),
        "/jwks" => {
            let keys = s.keys.lock().expect("lock").clone();
            let x = b64(keys.key.verifying_key().as_bytes());
            reply(
                200,
                "application/json",
                json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": keys.kid, "alg": "EdDSA", "use": "sig"}]})
                    .to_string(),
            )
        }
        "/authorize" => {
            let code = format!("code-{}", rand::random::<u64>());
            let nonce = params.get("nonce").cloned().unwrap_or_default();
            s.codes.lock().expect("lock").insert(code.clone(), nonce);
            let mut back = reqwest::Url::parse(params.get("redirect_uri").map_or("", |v| v))
                .expect("redirect_uri");
            back.query_pairs_mut()
                .append_pair("code", &code)
                .append_pair("state", params.get("state").map_or("", |v| v));
            Response::builder()
                .status(302)
                .header("location", back.to_string())
                .body(Full::new(Bytes::new()))
                .expect("response")
        }
        "/token" => {
            *s.exchanges.lock().expect("lock") += 1;
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let form: HashMap<String, String> =
                form_urlencoded::parse(&body).into_owned().collect();
            let code = form.get("code").cloned().unwrap_or_default();
            let Some(nonce) = s.codes.lock().expect("lock").remove(&code) else {
                return reply(
                    400,
                    "application/json",
                    json!({"error": "invalid_grant"}).to_string(),
                );
            };
            let keys = s.keys.lock().expect("lock").clone();
            let craft = s.craft.lock().expect("lock");
            let id_token = match craft.as_ref() {
                Some(f) => f(&keys, iss, &nonce),
                None => keys.id_token(iss, &nonce, json!({})),
            };
            reply(
                200,
                "application/json",
                json!({"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token})
                    .to_string(),
            )
        }
        _ => reply(404, "text/plain", "not found".into()),
    }
}

fn discovery(s: &Shared, mut doc: Value) -> Value {
    if !s.end_session.load(std::sync::atomic::Ordering::SeqCst) {
        if let Some(o) = doc.as_object_mut() {
            o.remove("end_session_endpoint");
        }
    }
    doc
}
