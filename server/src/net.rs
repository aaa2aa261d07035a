//! The listener: accepts connections, enforces limits and deadlines, serves static files
//! over keep-alive HTTP/1.1 and hands WebSocket upgrades to their endpoint.

use crate::http::files::{self, PathError};
use crate::http::request::{self, HttpError, Limits, Request};
use crate::http::response::{Head, simple};
use crate::ws::conn::{self, Echo, Ending, Upgraded, WsConfig};
use crate::ws::deflate::Policy;
use crate::ws::handshake;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

#[derive(Clone, Debug)]
pub struct NetConfig {
    /// Canonical web root.
    pub www: PathBuf,
    pub max_connections: usize,
    pub limits: Limits,
    /// Deadline for a whole request head, from its first byte (slowloris).
    pub head_timeout: Duration,
    /// How long an idle keep-alive connection stays open.
    pub idle_timeout: Duration,
    pub allowed_origins: Vec<String>,
    /// Serve `/echo` (for conformance tests).
    pub echo: bool,
    pub echo_ws: WsConfig,
}

/// Whether the request's If-None-Match names `etag`: the weak comparison, as RFC 9110
/// (13.1.2) asks for If-None-Match (a tag a cache marked weak still matches).
fn if_none_match(req: &Request, etag: &str) -> bool {
    req.headers("if-none-match")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t.strip_prefix("W/").unwrap_or(t) == etag || t == "*")
}

/// The game's side of `/ws`, so the network layer knows nothing about the game.
pub trait GameEndpoint: Send + Sync + 'static {
    fn serve(
        &self,
        conn: Upgraded,
        request: &Request,
        shutdown: watch::Receiver<bool>,
    ) -> impl std::future::Future<Output = ()> + Send;

    /// One line of JSON for `GET /stats`.
    fn stats(&self) -> String;

    /// Answers a call to `/api/…` or `/map/…` (GET, HEAD, or POST with its body read
    /// already); `None` when there is no such endpoint.
    fn api(&self, call: &ApiCall<'_>)
    -> impl std::future::Future<Output = Option<ApiReply>> + Send;
}

/// Largest body a JSON endpoint reads.
pub const MAX_API_BODY: usize = 4096;

/// A call to an endpoint: what it may look at.
pub struct ApiCall<'a> {
    pub method: &'a str,
    /// Without the query.
    pub path: &'a str,
    /// After the `?`.
    pub query: &'a str,
    /// The head: cookies, `Origin`, `Host`.
    pub request: &'a Request,
    /// At most [`MAX_API_BODY`] bytes (empty for GET).
    pub body: &'a [u8],
    /// Who is calling: the peer, or with a proxy on this machine in front (nginx), the
    /// `X-Real-IP` it passes on.
    pub client: std::net::IpAddr,
}

/// An endpoint's answer.
#[derive(Debug, PartialEq, Eq)]
pub struct ApiReply {
    pub status: u16,
    pub content_type: &'static str,
    /// `Cache-Control`.
    pub cache: &'static str,
    /// A matching If-None-Match gets a 304.
    pub etag: Option<String>,
    /// More header lines (`Set-Cookie`, `Retry-After`).
    pub headers: Vec<(&'static str, String)>,
    pub body: bytes::Bytes,
}

/// Compressed static files by path and coding: (ETag, bytes).
type CompressedFiles = std::collections::HashMap<(PathBuf, Coding), (String, Arc<[u8]>)>;

/// The content codings static files are compressed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Coding {
    Gzip,
    Deflate,
}

impl Coding {
    /// The one the client weighs highest, if it accepts either; gzip at equal weight,
    /// as every client reads it the same way ("deflate" has had raw and zlib readings).
    fn choose(req: &Request) -> Option<Coding> {
        let (gzip, deflate) = (
            req.encoding_quality("gzip"),
            req.encoding_quality("deflate"),
        );
        match gzip.max(deflate) {
            0 => None,
            best if best == gzip => Some(Coding::Gzip),
            _ => Some(Coding::Deflate),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        }
    }

    /// Each coding's variant of a file has an ETag of its own.
    fn etag(self, identity: &str) -> String {
        let suffix = match self {
            Coding::Gzip => "gz",
            Coding::Deflate => "z",
        };
        format!("{}-{suffix}\"", identity.trim_end_matches('"'))
    }

    fn compress(self, data: &[u8]) -> std::io::Result<Vec<u8>> {
        use std::io::Write;
        let level = flate2::Compression::best();
        match self {
            Coding::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), level);
                encoder.write_all(data)?;
                encoder.finish()
            }
            Coding::Deflate => Ok(miniz_oxide::deflate::compress_to_vec_zlib(data, 9)),
        }
    }
}

pub struct Server<G> {
    pub config: NetConfig,
    pub game: G,
    slots: Arc<Semaphore>,
    shutdown: watch::Receiver<bool>,
    compressed: std::sync::Mutex<CompressedFiles>,
}

impl<G: GameEndpoint> Server<G> {
    pub fn new(config: NetConfig, game: G, shutdown: watch::Receiver<bool>) -> Arc<Server<G>> {
        Arc::new(Server {
            slots: Arc::new(Semaphore::new(config.max_connections)),
            config,
            game,
            shutdown,
            compressed: Default::default(),
        })
    }

    /// Accepts until shutdown, then waits (bounded) for the open connections to close.
    pub async fn run(self: Arc<Self>, listener: TcpListener) {
        let mut shutdown = self.shutdown.clone();
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = shutdown.changed() => break,
            };
            let (mut stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                tracing::warn!(%peer, "connection limit reached");
                tokio::spawn(async move {
                    let busy = simple(
                        503,
                        "server is full, try again later\n",
                        false,
                        &[("Retry-After", "5")],
                    );
                    let _ =
                        tokio::time::timeout(Duration::from_secs(1), stream.write_all(&busy)).await;
                });
                continue;
            };
            let server = self.clone();
            tokio::spawn(async move {
                server.connection(stream).await;
                drop(permit);
            });
        }
        let all = self.config.max_connections as u32;
        let drained =
            tokio::time::timeout(Duration::from_secs(5), self.slots.acquire_many(all)).await;
        if drained.is_err() {
            tracing::warn!("some connections did not close within 5 s");
        }
    }

    async fn connection(&self, mut stream: TcpStream) {
        let mut buf = Vec::new();
        let mut first = true;
        loop {
            let head = self.read_head(&mut stream, &mut buf, first).await;
            first = false;
            let req = match head {
                Ok(Some(req)) => req,
                Ok(None) => return,
                Err(e) => {
                    let _ = stream
                        .write_all(&simple(e.status(), &format!("{e}\n"), false, &[]))
                        .await;
                    return;
                }
            };
            let path = req.target.split('?').next().unwrap_or_default();
            let upgrade = req.has_token("upgrade", "websocket");
            if path == "/ws" || (path == "/echo" && self.config.echo) {
                // Players' connections keep no decompressor (thousands of them); the
                // echo endpoint takes what the peer offers (the Autobahn cases).
                let echo = path == "/echo";
                let policy = if echo {
                    Policy::Accept
                } else {
                    Policy::Stateless
                };
                let accepted = match handshake::respond(&req, &self.config.allowed_origins, policy)
                {
                    Ok(accepted) => accepted,
                    Err(refusal) => {
                        let _ = stream.write_all(&refusal).await;
                        return;
                    }
                };
                if stream.write_all(&accepted.response).await.is_err() {
                    return;
                }
                let upgraded = Upgraded {
                    stream,
                    leftover: std::mem::take(&mut buf),
                    deflate: accepted.deflate,
                };
                if !echo {
                    self.game.serve(upgraded, &req, self.shutdown.clone()).await;
                } else {
                    let (out, drain) = conn::new_outbox(&self.config.echo_ws);
                    let mut echo = Echo {
                        deflate: upgraded.deflate,
                    };
                    let ending = conn::serve(
                        upgraded,
                        &self.config.echo_ws,
                        &mut echo,
                        out,
                        drain,
                        self.shutdown.clone(),
                    )
                    .await;
                    tracing::debug!(?ending, "echo connection ended");
                }
                return;
            }
            if upgrade {
                let _ = stream
                    .write_all(&simple(404, "no WebSocket endpoint here\n", false, &[]))
                    .await;
                return;
            }
            if req.method == "POST" && path.starts_with("/api/") {
                let keep_alive = req.keep_alive() && !*self.shutdown.borrow();
                let Some(response) = self.post(&mut stream, &mut buf, &req, keep_alive).await
                else {
                    return;
                };
                if stream.write_all(&response).await.is_err() || !keep_alive {
                    return;
                }
                continue;
            }
            let keep_alive = req.keep_alive() && !req.has_body() && !*self.shutdown.borrow();
            let response =
                (self.static_response(&req, keep_alive, client_address(&stream, &req))).await;
            if stream.write_all(&response).await.is_err() || !keep_alive {
                return;
            }
        }
    }

    /// Reads until a whole request head is buffered. `Ok(None)`: the peer closed or idled
    /// out between requests. A head must complete within `head_timeout` of its first byte.
    async fn read_head(
        &self,
        stream: &mut TcpStream,
        buf: &mut Vec<u8>,
        first: bool,
    ) -> Result<Option<Request>, HttpError> {
        let mut deadline = if first {
            Some(Instant::now() + self.config.head_timeout)
        } else {
            None
        };
        let idle_deadline = Instant::now() + self.config.idle_timeout;
        loop {
            if let Some((req, n)) = request::parse(buf, &self.config.limits)? {
                buf.drain(..n);
                return Ok(Some(req));
            }
            if !buf.is_empty() && deadline.is_none() {
                deadline = Some(Instant::now() + self.config.head_timeout);
            }
            let until = deadline.unwrap_or(idle_deadline);
            buf.reserve(2048);
            let mut shutdown = self.shutdown.clone();
            let read = tokio::select! {
                r = tokio::time::timeout_at(until, stream.read_buf(buf)) => r,
                _ = shutdown.changed(), if buf.is_empty() => return Ok(None),
            };
            match read {
                Ok(Ok(0)) | Ok(Err(_)) => return Ok(None),
                Ok(Ok(_)) => {}
                Err(_) if buf.is_empty() => return Ok(None),
                Err(_) => {
                    let _ = stream
                        .write_all(&simple(408, "request head took too long\n", false, &[]))
                        .await;
                    return Ok(None);
                }
            }
        }
    }

    /// A POST to a JSON endpoint: its body read (within the head's deadline and
    /// [`MAX_API_BODY`]), then answered. `None`: the peer went away or was too slow.
    async fn post(
        &self,
        stream: &mut TcpStream,
        buf: &mut Vec<u8>,
        req: &Request,
        keep_alive: bool,
    ) -> Option<Vec<u8>> {
        let len = match req.body_length(MAX_API_BODY) {
            Ok(n) => n,
            Err(e) => return Some(simple(e.status(), &format!("{e}\n"), false, &[])),
        };
        let deadline = Instant::now() + self.config.head_timeout;
        while buf.len() < len {
            buf.reserve(len - buf.len());
            match tokio::time::timeout_at(deadline, stream.read_buf(buf)).await {
                Ok(Ok(n)) if n > 0 => {}
                Ok(_) => return None,
                Err(_) => return Some(simple(408, "request body took too long\n", false, &[])),
            }
        }
        let body: Vec<u8> = buf.drain(..len).collect();
        let path = req.target.split('?').next().unwrap_or_default();
        let call = ApiCall {
            method: "POST",
            path,
            query: crate::http::query::of_target(&req.target),
            request: req,
            body: &body,
            client: client_address(stream, req),
        };
        Some(self.api_response(&call, keep_alive).await)
    }

    async fn api_response(&self, call: &ApiCall<'_>, keep_alive: bool) -> Vec<u8> {
        let connection = if keep_alive { "keep-alive" } else { "close" };
        let Some(reply) = self.game.api(call).await else {
            return simple(404, "no such endpoint\n", keep_alive, &[]);
        };
        if let Some(etag) = &reply.etag
            && if_none_match(call.request, etag)
        {
            return Head::new(304)
                .header("ETag", etag)
                .header("Cache-Control", reply.cache)
                .header("Connection", connection)
                .finish();
        }
        let body = reply.body;
        let mut head = Head::new(reply.status)
            .header("Content-Type", reply.content_type)
            .header("Content-Length", body.len())
            .header("Cache-Control", reply.cache)
            .header("X-Content-Type-Options", "nosniff")
            .header("Connection", connection);
        if let Some(etag) = &reply.etag {
            head = head.header("ETag", etag);
        }
        for (name, value) in &reply.headers {
            head = head.header(name, value);
        }
        let mut out = head.finish();
        if call.method != "HEAD" {
            out.extend_from_slice(&body);
        }
        out
    }

    async fn static_response(
        &self,
        req: &Request,
        keep_alive: bool,
        peer: std::net::IpAddr,
    ) -> Vec<u8> {
        let head_only = req.method == "HEAD";
        if req.method != "GET" && !head_only {
            return simple(
                405,
                "only GET and HEAD\n",
                keep_alive,
                &[("Allow", "GET, HEAD")],
            );
        }
        if req.has_body() {
            return simple(413, "requests take no body here\n", false, &[]);
        }
        let connection = if keep_alive { "keep-alive" } else { "close" };
        let path = req.target.split('?').next().unwrap_or_default();
        if path.starts_with("/api/") || path.starts_with("/map/") {
            let call = ApiCall {
                method: &req.method,
                path,
                query: crate::http::query::of_target(&req.target),
                request: req,
                body: &[],
                client: peer,
            };
            return self.api_response(&call, keep_alive).await;
        }
        if path == "/stats" {
            let body = self.game.stats();
            let mut out = Head::new(200)
                .header("Content-Type", "application/json")
                .header("Content-Length", body.len())
                .header("Cache-Control", "no-store")
                .header("Connection", connection)
                .finish();
            if !head_only {
                out.extend_from_slice(body.as_bytes());
            }
            return out;
        }
        let path = match files::resolve(&self.config.www, &req.target) {
            Ok(p) => p,
            Err(PathError::Bad) => return simple(400, "bad path\n", keep_alive, &[]),
            Err(PathError::NotFound) => return simple(404, "not found\n", keep_alive, &[]),
        };
        // The ETag comes from the metadata alone: a 304 reads nothing more, and a cached
        // compressed copy spares reading the file.
        let (len, etag) = match file_tag(&path).await {
            Ok(tag) => tag,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read file");
                return simple(404, "not found\n", keep_alive, &[]);
            }
        };
        let content_type = files::content_type(&path);
        let coding = (files::compressible(content_type) && len >= 1024)
            .then(|| Coding::choose(req))
            .flatten();
        let etag = match coding {
            Some(c) => c.etag(&etag),
            None => etag,
        };
        if if_none_match(req, &etag) {
            // With the headers a 200 would have carried that describe the response for
            // caches (RFC 9110, 15.4.5).
            return Head::new(304)
                .header("ETag", &etag)
                .header("Cache-Control", "no-cache")
                .header("Vary", "Accept-Encoding")
                .header("Connection", connection)
                .finish();
        }
        let body = if let Some(coding) = coding {
            self.compressed(&path, coding, &etag).await
        } else {
            tokio::fs::read(&path).await.map(Arc::from)
        };
        let body = match body {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read file");
                return simple(404, "not found\n", keep_alive, &[]);
            }
        };
        let mut head = Head::new(200)
            .header("Content-Type", content_type)
            .header("Content-Length", body.len())
            .header("ETag", &etag)
            .header("Cache-Control", "no-cache")
            .header("X-Content-Type-Options", "nosniff")
            .header("Vary", "Accept-Encoding")
            .header("Connection", connection);
        if let Some(coding) = coding {
            head = head.header("Content-Encoding", coding.name());
        }
        let mut out = head.finish();
        if !head_only {
            out.extend_from_slice(&body);
        }
        out
    }
}

impl<G> Server<G> {
    /// The file compressed with `coding`, once per version (ETag) of the file and kept.
    async fn compressed(
        &self,
        path: &std::path::Path,
        coding: Coding,
        etag: &str,
    ) -> std::io::Result<Arc<[u8]>> {
        let key = (path.to_owned(), coding);
        let cached = self
            .compressed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        if let Some((tag, bytes)) = cached
            && tag == etag
        {
            return Ok(bytes);
        }
        let body = tokio::fs::read(path).await?;
        // Off the runtime's threads: at the best level the wasm takes tens of ms.
        let bytes: Arc<[u8]> = tokio::task::spawn_blocking(move || coding.compress(&body))
            .await
            .map_err(std::io::Error::other)??
            .into();
        self.compressed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, (etag.to_owned(), bytes.clone()));
        Ok(bytes)
    }
}

const MAX_FILE: u64 = 64 << 20;

/// A file's length and ETag (length and modification time), from its metadata; files
/// over `MAX_FILE` are refused.
async fn file_tag(path: &std::path::Path) -> std::io::Result<(u64, String)> {
    let meta = tokio::fs::metadata(path).await?;
    if meta.len() > MAX_FILE {
        return Err(std::io::Error::other("file too large to serve"));
    }
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    Ok((meta.len(), format!("\"{:x}-{:x}\"", meta.len(), mtime)))
}

/// Logs how a WebSocket connection ended, once, at a level that matches its cause.
/// The caller's address: the peer's, or when the peer is a proxy on this machine
/// (nginx in front), the `X-Real-IP` it sets.
fn client_address(stream: &TcpStream, req: &Request) -> std::net::IpAddr {
    let peer = stream
        .peer_addr()
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |a| a.ip());
    match req.header("x-real-ip").map(|v| v.trim().parse()) {
        Some(Ok(ip)) if peer.is_loopback() => ip,
        _ => peer,
    }
}

pub fn log_ending(ending: &Ending, who: &str) {
    match ending {
        Ending::PeerClosed(code) => tracing::info!(who, code, "closed by peer"),
        Ending::WeClosed(code) => tracing::info!(who, code, "closed by server"),
        Ending::Dropped => tracing::info!(who, "connection dropped"),
    }
}
