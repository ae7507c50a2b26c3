//! TLS for tests: a private CA made at test time (rcgen), HTTPS servers on 127.0.0.1:0 with a
//! certificate from it, and OTLP receivers (HTTP/protobuf and gRPC) behind TLS.

use super::otlp::{ReceivedSpan, Store};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use prost::Message;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA of the test's own and a server certificate it signed for `localhost` and `127.0.0.1`.
/// The CA's PEM is also written to a file (what `OTEL_EXPORTER_OTLP_CERTIFICATE` points at).
pub struct TestPki {
    pub ca_pem: String,
    pub ca_file: PathBuf,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    server_cert_der: CertificateDer<'static>,
    server_key_der: Vec<u8>,
    _dir: tempfile::TempDir,
}

impl TestPki {
    pub fn new() -> TestPki {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "swaggy test CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key).expect("self-signed CA");
        let issuer = Issuer::new(ca, ca_key);

        let key = KeyPair::generate().expect("server key");
        let mut leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).expect("params");
        leaf.distinguished_name.push(DnType::CommonName, "localhost");
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = leaf.signed_by(&key, &issuer).expect("server certificate");

        let dir = tempfile::tempdir().expect("tempdir");
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca_cert.pem()).expect("write CA");
        TestPki {
            ca_pem: ca_cert.pem(),
            ca_file,
            server_cert_pem: cert.pem(),
            server_key_pem: key.serialize_pem(),
            server_cert_der: cert.der().clone(),
            server_key_der: key.serialize_der(),
            _dir: dir,
        }
    }

    /// A rustls server configuration with the server certificate, offering `alpn`.
    pub fn server_config(&self, alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key_der.clone()));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![self.server_cert_der.clone()], key)
            .expect("server certificate");
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }

    /// The CA as a reqwest root certificate.
    pub fn reqwest_ca(&self) -> reqwest::Certificate {
        reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).expect("CA certificate")
    }
}

/// An HTTPS (HTTP/1.1) server on 127.0.0.1:0 serving an axum router; stops when dropped.
pub struct HttpsServer {
    pub addr: SocketAddr,
    /// TLS handshakes that completed (a client that refuses the certificate never completes one).
    pub handshakes: Arc<AtomicUsize>,
    /// TLS handshakes that failed.
    pub failed_handshakes: Arc<AtomicUsize>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl HttpsServer {
    pub async fn start(pki: &TestPki, app: axum::Router) -> HttpsServer {
        let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config(&[b"http/1.1"]));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let handshakes = Arc::new(AtomicUsize::new(0));
        let failed_handshakes = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let (ok, failed) = (handshakes.clone(), failed_handshakes.clone());
        tokio::spawn(async move {
            loop {
                let (tcp, _) = tokio::select! {
                    _ = &mut rx => return,
                    accepted = listener.accept() => match accepted {
                        Ok(a) => a,
                        Err(_) => continue,
                    },
                };
                let (acceptor, app, ok, failed) = (acceptor.clone(), app.clone(), ok.clone(), failed.clone());
                tokio::spawn(async move {
                    let tls = match acceptor.accept(tcp).await {
                        Ok(t) => t,
                        Err(_) => {
                            failed.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                    };
                    ok.fetch_add(1, Ordering::SeqCst);
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        HttpsServer { addr, handshakes, failed_handshakes, shutdown: Some(tx) }
    }

    /// `https://localhost:{port}` (the certificate names `localhost` and `127.0.0.1`).
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn add_traces(store: &Store, req: ExportTraceServiceRequest) {
    let mut spans = store.spans.lock().unwrap();
    for rs in req.resource_spans {
        let resource = rs.resource.map(|r| r.attributes).unwrap_or_default();
        for ss in rs.scope_spans {
            let scope = ss.scope.map(|s| s.name).unwrap_or_default();
            for span in ss.spans {
                spans.push(ReceivedSpan { resource: resource.clone(), scope: scope.clone(), span });
            }
        }
    }
}

/// An OTLP/HTTP (protobuf) receiver behind TLS.
pub struct HttpsOtlpReceiver {
    pub server: HttpsServer,
    pub store: Arc<Store>,
}

impl HttpsOtlpReceiver {
    pub async fn start(pki: &TestPki) -> HttpsOtlpReceiver {
        use axum::body::Bytes;
        use axum::extract::State;
        use axum::http::Uri;
        async fn any(State(store): State<Arc<Store>>, uri: Uri, body: Bytes) -> Vec<u8> {
            store.paths.lock().unwrap().push(uri.path().to_string());
            match uri.path() {
                "/v1/traces" => {
                    if let Ok(req) = ExportTraceServiceRequest::decode(body) {
                        add_traces(&store, req);
                    }
                    ExportTraceServiceResponse { partial_success: None }.encode_to_vec()
                }
                "/v1/metrics" => {
                    if let Ok(req) = ExportMetricsServiceRequest::decode(body) {
                        store.metrics.lock().unwrap().push(req);
                    }
                    ExportMetricsServiceResponse { partial_success: None }.encode_to_vec()
                }
                _ => Vec::new(),
            }
        }
        let store = Arc::new(Store::default());
        let app = axum::Router::new().fallback(any).with_state(store.clone());
        HttpsOtlpReceiver { server: HttpsServer::start(pki, app).await, store }
    }
}

#[derive(Clone)]
struct Grpc(Arc<Store>);

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.paths.lock().unwrap().push("grpc:traces".into());
        add_traces(&self.0, request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

#[tonic::async_trait]
impl MetricsService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.0.paths.lock().unwrap().push("grpc:metrics".into());
        self.0.metrics.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse { partial_success: None }))
    }
}

/// An OTLP/gRPC receiver behind TLS (tonic's own server TLS, HTTP/2 by ALPN).
pub struct GrpcsOtlpReceiver {
    pub addr: SocketAddr,
    pub store: Arc<Store>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl GrpcsOtlpReceiver {
    pub async fn start(pki: &TestPki) -> GrpcsOtlpReceiver {
        let store = Arc::new(Store::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let identity = tonic::transport::Identity::from_pem(&pki.server_cert_pem, &pki.server_key_pem);
        let tls = tonic::transport::ServerTlsConfig::new().identity(identity);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let svc = Grpc(store.clone());
        let mut server = tonic::transport::Server::builder().tls_config(tls).expect("server TLS");
        tokio::spawn(async move {
            let _ = server
                .add_service(TraceServiceServer::new(svc.clone()))
                .add_service(MetricsServiceServer::new(svc))
                .serve_with_incoming_shutdown(tonic::transport::server::TcpIncoming::from(listener), async {
                    let _ = rx.await;
                })
                .await;
        });
        GrpcsOtlpReceiver { addr, store, shutdown: Some(tx) }
    }

    pub fn endpoint(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }
}

impl Drop for GrpcsOtlpReceiver {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A redis-server of the test's own speaking TLS only (`--port 0 --tls-port …`) with the
/// server certificate; killed (by its handle) on drop.
pub struct TlsRedis {
    pub port: u16,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl TlsRedis {
    pub fn start(pki: &TestPki) -> Option<TlsRedis> {
        let bin = super::require_tool("redis-server", "redis-server")?;
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key, ca) = (dir.path().join("cert.pem"), dir.path().join("key.pem"), dir.path().join("ca.pem"));
        std::fs::write(&cert, &pki.server_cert_pem).unwrap();
        std::fs::write(&key, &pki.server_key_pem).unwrap();
        std::fs::write(&ca, &pki.ca_pem).unwrap();
        let port = super::services::free_port();
        let child = std::process::Command::new(bin)
            .args(["--bind", "127.0.0.1", "--port", "0", "--tls-port", &port.to_string(), "--tls-auth-clients", "no"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--tls-cert-file")
            .arg(&cert)
            .arg("--tls-key-file")
            .arg(&key)
            .arg("--tls-ca-cert-file")
            .arg(&ca)
            .arg("--dir")
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let mut server = TlsRedis { port, child, _dir: dir };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("redis-server with TLS exited ({status}): is it built with TLS support?");
            }
            assert!(std::time::Instant::now() < deadline, "redis-server with TLS did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Some(server)
    }

    /// `rediss://localhost:{port}`.
    pub fn url(&self) -> String {
        format!("rediss://localhost:{}", self.port)
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the local Postgres has `ssl = on`. When it is off: prints why the test skips, or
/// panics under `REQUIRE_SERVICES=1`.
pub async fn postgres_has_ssl() -> bool {
    let admin = sqlx::PgPool::connect(super::services::PG_ADMIN_URL).await.expect("connect to postgres");
    let ssl: String = sqlx::query_scalar("SHOW ssl").fetch_one(&admin).await.expect("SHOW ssl");
    admin.close().await;
    if ssl != "on" {
        let msg = "postgres runs with ssl = off (Debian's default cluster has it on, with the snakeoil certificate)";
        if std::env::var("REQUIRE_SERVICES").is_ok_and(|v| v == "1") {
            panic!("REQUIRE_SERVICES=1 and {msg}");
        }
        eprintln!("SKIPPED: {msg}");
        return false;
    }
    true
}
