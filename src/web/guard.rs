//! What every request and connection passes through before a handler sees it: the `Host` it
//! names, how long and how large its body may be, and the headers every answer carries (what a
//! browser may load, frame, sniff, send on, or keep).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::App;

/// How long a connection may take, and how many there may be.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// From the moment the server waits for a request (a new connection, or a kept-alive one
    /// after its last answer) until its whole header has arrived: a half-sent header and an
    /// idle kept-alive connection are both closed after this.
    pub header: Duration,
    /// For the whole body of a request, once its header has arrived.
    pub body: Duration,
    /// For a connection in all (a client that stops reading an answer is closed after this).
    pub connection: Duration,
    /// Connections open at once; one more is closed at once.
    pub connections: usize,
    /// The largest request body, in bytes (forms are small: every free-text field is bounded).
    pub body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header: Duration::from_secs(10),
            body: Duration::from_secs(10),
            connection: Duration::from_secs(300),
            connections: 256,
            body_bytes: 64 * 1024,
        }
    }
}

/// The `Host` values a request may name: the address the page listens on (and `localhost` with
/// its port when that address is this machine's), and the names given with `--host`. Anything
/// else is refused: a page of another site that a browser reaches through a name it made to
/// point here (DNS rebinding) names its own host.
#[derive(Clone, Debug)]
pub struct Hosts {
    allowed: Vec<String>,
}

impl Hosts {
    /// The hosts for a page listening on `listen`, with the extra `names`.
    pub fn new(listen: SocketAddr, names: &[String]) -> Hosts {
        let port = listen.port();
        let mut allowed = vec![listen.to_string()];
        if listen.ip().is_loopback() {
            allowed.push(format!("localhost:{port}"));
        }
        if port == 80 {
            allowed.push(match listen {
                SocketAddr::V4(a) => a.ip().to_string(),
                SocketAddr::V6(a) => format!("[{}]", a.ip()),
            });
        }
        for n in names {
            let n = n.trim().to_ascii_lowercase();
            if n.is_empty() {
                continue;
            }
            let has_port = !n.ends_with(']') && n.contains(':');
            if !has_port {
                allowed.push(format!("{n}:{port}"));
            }
            allowed.push(n);
        }
        allowed.iter_mut().for_each(|h| h.make_ascii_lowercase());
        Hosts { allowed }
    }

    /// Whether a request naming `host` is answered.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        self.allowed.contains(&host)
    }
}

/// The policy every answer carries: scripts, styles and everything else only from the page's
/// own address and never inline; the page never framed; types never sniffed; no referrer sent.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Refuses a request for another host; reads its body within the time and size allowed;
/// marks the answer with the headers every page carries.
pub async fn guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    if !host.as_deref().is_some_and(|h| app.hosts.allows(h)) {
        return secured(
            (
                StatusCode::MISDIRECTED_REQUEST,
                "this page answers only the address it is served on\n",
            )
                .into_response(),
            true,
        );
    }
    let assets = req.uri().path().starts_with("/assets/");
    let (parts, body) = req.into_parts();
    let limit = app.limits.body_bytes;
    let read = tokio::time::timeout(app.limits.body, axum::body::to_bytes(body, limit)).await;
    let bytes = match read {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => {
            return secured(
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("a request body is at most {limit} bytes\n"),
                )
                    .into_response(),
                true,
            );
        }
        Err(_) => {
            return secured(
                (
                    StatusCode::REQUEST_TIMEOUT,
                    "the request's body did not arrive in time\n",
                )
                    .into_response(),
                true,
            );
        }
    };
    let res = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    secured(res, !assets)
}

/// Adds the security headers; `no_store`: the answer may hold patient data and is not kept in
/// a (shared workstation's) browser cache.
fn secured(mut res: Response, no_store: bool) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if no_store {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listen_address_localhost_and_named_hosts_are_answered() {
        let h = Hosts::new("127.0.0.1:8470".parse().expect("addr"), &[]);
        assert!(h.allows("127.0.0.1:8470"));
        assert!(h.allows("LOCALHOST:8470"));
        for bad in [
            "evil.example.com",
            "evil.example.com:8470",
            "127.0.0.1",
            "127.0.0.1:8471",
            "",
        ] {
            assert!(!h.allows(bad), "{bad}");
        }
        let h = Hosts::new(
            "10.0.0.5:8470".parse().expect("addr"),
            &["Ward.Clinic.example".into()],
        );
        assert!(h.allows("ward.clinic.example"));
        assert!(h.allows("ward.clinic.example:8470"));
        assert!(!h.allows("localhost:8470"));
        let h = Hosts::new("[::1]:80".parse().expect("addr"), &[]);
        assert!(h.allows("[::1]:80") && h.allows("[::1]") && h.allows("localhost:80"));
    }
}
