//! The HTTP side: a bare hyper service (no framework on the hot path) that routes each
//! request, checks credentials and calls the handler.

mod api;
mod auth;
mod body;
mod browse;
mod conditional;
mod delete;
mod idle;
mod index_yaml;
mod metrics;
mod oci;
mod oci_push;
mod packages;
mod query;
mod record;
mod reply_future;
mod response;
mod root;
pub(crate) mod route;
mod serve;
mod summary;
mod tls;
mod upload;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, ALLOW};
use hyper::{Method, Request, StatusCode};

pub use auth::Auth;
pub use serve::serve;
pub use tls::acceptor as tls_acceptor;

use crate::config::Config;
use crate::index::Catalog;
use auth::Access;
use metrics::{Metrics, RouteClass};
use record::RequestRecord;
use reply_future::ReplyFuture;
use response::Reply;
use route::{OciTarget, Route};

/// Everything a request handler needs, shared by all connections.
pub struct App {
    pub config: Config,
    pub catalog: Arc<Catalog>,
    auth: Option<Auth>,
    /// `CORS_ALLOW_ORIGIN`, for the answers of /api routes.
    allow_origin: Option<HeaderValue>,
    /// Uploads being checked and saved at once: one per core. Each holds a thread, a
    /// decompressor and its buffers; hundreds at once cost gigabytes for no speed (they
    /// share the cores and queue on the repository's lock). The rest wait, holding only
    /// their spool files.
    saving: tokio::sync::Semaphore,
    /// Source of `X-Request-Id` values for requests that bring none.
    next_request_id: AtomicU64,
    request_id_prefix: String,
    /// What `/metrics` shows; `None` when it is off (`DISABLE_METRICS`).
    metrics: Option<Metrics>,
    /// Whether a line is logged for each request (the log level lets `info` through).
    log_requests: bool,
    /// OCI uploads in progress on this replica.
    oci: oci_push::OciState,
}

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

impl App {
    /// The service `config` describes, checking credentials with `auth`.
    pub fn new(config: Config, catalog: Arc<Catalog>, auth: Option<Auth>) -> Result<App, String> {
        let allow_origin = match &config.cors_allow_origin {
            Some(origin) => Some(
                HeaderValue::from_str(origin)
                    .map_err(|_| format!("CORS_ALLOW_ORIGIN = {origin:?} is not a valid header value"))?,
            ),
            None => None,
        };
        let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Ok(App {
            auth,
            allow_origin,
            saving: tokio::sync::Semaphore::new(cores),
            next_request_id: AtomicU64::new(0),
            request_id_prefix: format!("{:x}-{:x}", std::process::id(), started.as_secs()),
            metrics: config.metrics().then(|| Metrics::new(catalog.clone())),
            log_requests: record::logging(),
            oci: oci_push::OciState::default(),
            config,
            catalog,
        })
    }

    /// Answers `request`, and starts the record its response leaves when it ends.
    pub fn handle(self: &Arc<Self>, request: Request<Incoming>) -> ReplyFuture {
        let request_id = match request.headers().get(&X_REQUEST_ID) {
            Some(id) if record::usable_request_id(id) => id.clone(),
            _ => self.new_request_id(),
        };
        let mut record = RequestRecord::begin(request.method(), request.uri().path(), request_id, self.log_requests);
        let reply = self.dispatch(request, &mut record.class);
        reply.with_record(record)
    }

    /// Counts an upload's outcome, when metrics are on.
    fn count_upload(&self, outcome: metrics::UploadOutcome) {
        if let Some(metrics) = &self.metrics {
            metrics.requests.upload(outcome);
        }
    }

    /// Counts and logs a request whose response is over, after `sent` body bytes.
    pub fn finish(&self, record: RequestRecord, sent: u64) {
        let stats = self.metrics.as_ref().map(|metrics| &*metrics.requests);
        record.finish(sent, stats, self.config.log_health);
    }

    /// `<pid>-<start time>-<counter>` in hex, unique per process run: built by hand
    /// because it is made for every request.
    fn new_request_id(&self) -> HeaderValue {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let n = self.next_request_id.fetch_add(1, Ordering::Relaxed);
        let digits = (u64::BITS - n.leading_zeros()).div_ceil(4).max(1);
        let mut id = Vec::with_capacity(self.request_id_prefix.len() + 1 + digits as usize);
        id.extend_from_slice(self.request_id_prefix.as_bytes());
        id.push(b'-');
        id.extend((0..digits).rev().map(|i| HEX[(n >> (4 * i)) as usize & 15]));
        HeaderValue::from_maybe_shared(Bytes::from(id)).expect("hex digits and dashes")
    }

    /// Resolves the route (and tells its class) and checks the caller's credentials, then
    /// answers.
    fn dispatch(self: &Arc<Self>, request: Request<Incoming>, class: &mut RouteClass) -> ReplyFuture {
        let route = route::resolve(request.uri().path(), &self.config.context_path, self.config.depth);
        *class = RouteClass::of(&route, request.method());
        if route.is_api() && self.config.disable_api {
            return ReplyFuture::now(response::error(
                StatusCode::NOT_FOUND,
                "not found: the API is disabled on this server (DISABLE_API)",
            ));
        }
        let oci_write = matches!(route, Route::Oci { .. }) && !matches!(*request.method(), Method::GET | Method::HEAD);
        if oci_write && self.config.disable_api {
            // A server whose API is off takes no pushes over OCI either; pulls stay open,
            // as index.yaml and packages do.
            return ReplyFuture::now(oci::error(
                StatusCode::METHOD_NOT_ALLOWED,
                "UNSUPPORTED",
                "pushing and deleting are disabled on this server (DISABLE_API)",
            ));
        }
        let method = request.method().clone();
        let access = match (&route, &method) {
            (Route::Health | Route::Info | Route::Metrics | Route::WrongDepth | Route::NotFound, _) => Access::Open,
            (_, &Method::GET | &Method::HEAD) => Access::Pull,
            _ => Access::Push,
        };
        if let Some(denied) = self.auth.as_ref().and_then(|auth| auth.check(access, route.repo(), request.headers())) {
            return ReplyFuture::now(denied);
        }
        let allow_origin = if route.is_api() { self.allow_origin.clone() } else { None };
        // Routes that read snapshots answer now; those that wait on storage or the request
        // body answer later, from a future that owns what it needs.
        let head = method == Method::HEAD;
        let reply = match (route, method) {
            (Route::Health, Method::GET | Method::HEAD) => {
                response::bytes(StatusCode::OK, response::JSON, &b"{\"healthy\":true}"[..])
            }
            (Route::Info, Method::GET | Method::HEAD) => response::json(
                StatusCode::OK,
                &serde_json::json!({ "version": concat!("v", env!("CARGO_PKG_VERSION")) }),
            ),
            (Route::Root, Method::GET | Method::HEAD) => browse::root(self, request.headers()),
            (Route::Index { repo }, Method::GET | Method::HEAD) => {
                index_yaml::get(self, &repo, request.headers(), head)
            }
            (Route::Package { repo, file }, Method::GET | Method::HEAD) => {
                let (app, repo, file) = (self.clone(), repo.into_owned(), file.into_owned());
                return ReplyFuture::later(async move {
                    packages::download(&app, repo, file, request.headers(), head).await
                })
                .with_allow_origin(allow_origin);
            }
            (Route::ApiCharts { repo }, Method::GET | Method::HEAD) => {
                api::charts(self, &repo, request.uri().query(), head)
            }
            (Route::ApiCharts { repo }, Method::POST) => {
                let (app, repo) = (self.clone(), repo.into_owned());
                return ReplyFuture::later(
                    async move { upload::upload(&app, repo, request, upload::Target::Chart).await },
                )
                .with_allow_origin(allow_origin);
            }
            (Route::ApiProvenance { repo }, Method::POST) => {
                let (app, repo) = (self.clone(), repo.into_owned());
                return ReplyFuture::later(async move {
                    upload::upload(&app, repo, request, upload::Target::Provenance).await
                })
                .with_allow_origin(allow_origin);
            }
            (Route::ApiSummary { repo }, Method::GET | Method::HEAD) => {
                summary::summary(self, &repo, request.uri().query(), head)
            }
            (Route::ApiChart { repo, name }, Method::GET | Method::HEAD) => api::chart(self, &repo, &name, head),
            (Route::ApiVersion { repo, name, version }, Method::GET | Method::HEAD) => {
                api::version(self, &repo, &name, &version, head)
            }
            (Route::ApiVersion { .. }, Method::DELETE) if self.config.disable_delete => response::error(
                StatusCode::NOT_FOUND,
                "not found: deleting is disabled on this server (DISABLE_DELETE)",
            ),
            (Route::ApiVersion { repo, name, version }, Method::DELETE) => {
                let app = self.clone();
                let (repo, name, version) = (repo.into_owned(), name.into_owned(), version.into_owned());
                return ReplyFuture::later(async move { delete::delete(&app, repo, name, version).await })
                    .with_allow_origin(allow_origin);
            }
            (Route::ApiTemplates { repo, name, version }, Method::GET) => {
                let app = self.clone();
                let (repo, name, version) = (repo.into_owned(), name.into_owned(), version.into_owned());
                return ReplyFuture::later(async move {
                    api::contents(&app, repo, name, version, api::Contents::Templates).await
                })
                .with_allow_origin(allow_origin);
            }
            (Route::ApiValues { repo, name, version }, Method::GET) => {
                let app = self.clone();
                let (repo, name, version) = (repo.into_owned(), name.into_owned(), version.into_owned());
                return ReplyFuture::later(async move {
                    api::contents(&app, repo, name, version, api::Contents::Values).await
                })
                .with_allow_origin(allow_origin);
            }
            (Route::Metrics, Method::GET | Method::HEAD) => match &self.metrics {
                Some(metrics) => {
                    let reply = response::bytes(
                        StatusCode::OK,
                        HeaderValue::from_static(metrics::CONTENT_TYPE),
                        metrics.render(),
                    );
                    if head {
                        response::without_body(reply)
                    } else {
                        reply
                    }
                }
                None => response::error(
                    StatusCode::NOT_FOUND,
                    "not found: metrics are off on this server (DISABLE_METRICS or ENABLE_METRICS=false)",
                ),
            },
            (Route::OciBase, Method::GET | Method::HEAD) => oci::base(),
            (Route::Oci { repo, chart, target: OciTarget::Tags }, Method::GET | Method::HEAD) => {
                oci::tags(self, &repo, &chart, request.uri().query(), head)
            }
            (Route::Oci { repo, chart, target: OciTarget::Manifest(reference) }, method) => {
                let app = self.clone();
                let (repo, chart, reference) = (repo.into_owned(), chart.into_owned(), reference.into_owned());
                return ReplyFuture::later(async move {
                    match method {
                        Method::GET | Method::HEAD => oci::manifest(&app, repo, chart, reference, head).await,
                        Method::PUT => oci_push::put_manifest(&app, repo, chart, reference, request).await,
                        Method::DELETE => oci_push::delete_manifest(&app, repo, chart, reference).await,
                        _ => oci::unsupported(),
                    }
                });
            }
            (Route::Oci { repo, chart, target: OciTarget::Upload(id) }, method) => {
                let app = self.clone();
                let (repo, chart, id) = (repo.into_owned(), chart.into_owned(), id.map(std::borrow::Cow::into_owned));
                return ReplyFuture::later(async move {
                    match (id, method) {
                        (None, Method::POST) => oci_push::start(&app, repo, chart, request).await,
                        (Some(id), Method::PATCH) => oci_push::patch(&app, repo, chart, id, request).await,
                        (Some(id), Method::PUT) => oci_push::finish(&app, repo, chart, id, request).await,
                        (Some(id), Method::GET | Method::HEAD) => oci_push::status(&app, &repo, &chart, &id),
                        (Some(id), Method::DELETE) => oci_push::cancel(&app, &id),
                        _ => oci::unsupported(),
                    }
                });
            }
            (Route::Oci { repo, chart, target: OciTarget::Blob(digest) }, method) => {
                let app = self.clone();
                let (repo, chart, digest) = (repo.into_owned(), chart.into_owned(), digest.into_owned());
                return ReplyFuture::later(async move {
                    match method {
                        Method::GET | Method::HEAD => oci::blob(&app, repo, chart, digest, head).await,
                        Method::DELETE => oci_push::delete_blob(&oci::name(&repo, &chart)),
                        _ => oci::unsupported(),
                    }
                });
            }
            (Route::Oci { target: OciTarget::Referrers, .. }, _) => oci::error(
                StatusCode::NOT_FOUND,
                "UNSUPPORTED",
                "the referrers API is not supported here (charts have no referrers)",
            ),
            (Route::OciBase | Route::Oci { .. }, _) => oci::unsupported(),
            (Route::WrongDepth, _) => self.wrong_depth(),
            (Route::NotFound, _) => response::not_found(),
            (route, method) => method_not_allowed(&route, &method),
        };
        ReplyFuture::now(reply).with_allow_origin(allow_origin)
    }
}

impl App {
    /// A 404 that says where this server's repositories are.
    fn wrong_depth(&self) -> Reply {
        let (depth, context) = (self.config.depth, &self.config.context_path);
        let repo = (1..=depth).map(|i| format!("<segment {i}>")).collect::<Vec<_>>().join("/");
        response::error(
            StatusCode::NOT_FOUND,
            format!(
                "not found: this server names each repository by {depth} path segment(s) (DEPTH={depth}), \
                 so a repository's index is {context}/{repo}/index.yaml and its API {context}/api/{repo}/charts; \
                 add it with `helm repo add NAME http://HOST{context}/{repo}`. To serve charts without a \
                 repository in the path, as a single-tenant ChartMuseum, start the server with DEPTH=0"
            ),
        )
    }
}

fn method_not_allowed(route: &Route, method: &Method) -> Reply {
    let allowed = match route {
        Route::ApiCharts { .. } => "GET, HEAD, POST",
        Route::ApiProvenance { .. } => "POST",
        Route::ApiVersion { .. } => "GET, HEAD, DELETE",
        Route::ApiTemplates { .. } | Route::ApiValues { .. } => "GET",
        _ => "GET, HEAD",
    };
    let mut reply = response::error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method {method} is not allowed here; this route accepts {allowed}"),
    );
    reply.headers_mut().insert(ALLOW, HeaderValue::from_static(allowed));
    reply
}
