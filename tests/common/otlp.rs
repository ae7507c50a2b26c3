//! An OTLP receiver inside the tests: gRPC (tonic) and HTTP/protobuf (axum), recording what
//! arrives.

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A received span with its resource's attributes.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    pub resource: Vec<KeyValue>,
    pub scope: String,
    pub span: Span,
}

impl ReceivedSpan {
    pub fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }
    pub fn span_id(&self) -> String {
        hex(&self.span.span_id)
    }
    pub fn parent_id(&self) -> String {
        hex(&self.span.parent_span_id)
    }
    pub fn attr(&self, key: &str) -> Option<String> {
        attr(&self.span.attributes, key)
    }
    pub fn resource_attr(&self, key: &str) -> Option<String> {
        attr(&self.resource, key)
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn attr(kvs: &[KeyValue], key: &str) -> Option<String> {
    kvs.iter().find(|kv| kv.key == key).and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
        AnyValue::StringValue(s) => Some(s.clone()),
        AnyValue::IntValue(i) => Some(i.to_string()),
        AnyValue::BoolValue(b) => Some(b.to_string()),
        AnyValue::DoubleValue(d) => Some(d.to_string()),
        _ => None,
    })
}

#[derive(Default)]
pub struct Store {
    pub spans: Mutex<Vec<ReceivedSpan>>,
    pub metrics: Mutex<Vec<ExportMetricsServiceRequest>>,
    pub paths: Mutex<Vec<String>>,
    pub headers: Mutex<Vec<(String, String)>>,
}

impl Store {
    fn add_traces(&self, req: ExportTraceServiceRequest) {
        let mut spans = self.spans.lock().unwrap();
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

    /// Names of metrics received so far.
    pub fn metric_names(&self) -> std::collections::BTreeSet<String> {
        let mut out = std::collections::BTreeSet::new();
        for req in self.metrics.lock().unwrap().iter() {
            for rm in &req.resource_metrics {
                for sm in &rm.scope_metrics {
                    for m in &sm.metrics {
                        out.insert(m.name.clone());
                    }
                }
            }
        }
        out
    }

    /// Resource attribute `key` of the first metrics export.
    pub fn metrics_resource_attr(&self, key: &str) -> Option<String> {
        let m = self.metrics.lock().unwrap();
        let rm = m.first()?.resource_metrics.first()?;
        attr(&rm.resource.as_ref()?.attributes, key)
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
        self.0.add_traces(request.into_inner());
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

pub struct Receiver {
    pub addr: SocketAddr,
    pub store: Arc<Store>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Receiver {
    /// OTLP/gRPC on 127.0.0.1:0.
    pub async fn grpc() -> Receiver {
        let store = Arc::new(Store::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let svc = Grpc(store.clone());
        tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(svc.clone()))
                .add_service(MetricsServiceServer::new(svc))
                .serve_with_incoming_shutdown(tonic::transport::server::TcpIncoming::from(listener), async {
                    let _ = rx.await;
                })
                .await;
        });
        Receiver { addr, store, shutdown: Some(tx) }
    }

    /// OTLP/HTTP (protobuf) on 127.0.0.1:0; every request path is recorded.
    pub async fn http() -> Receiver {
        use axum::body::Bytes;
        use axum::extract::State;
        use axum::http::{HeaderMap, Uri};
        let store = Arc::new(Store::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        async fn any(State(store): State<Arc<Store>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Vec<u8> {
            store.paths.lock().unwrap().push(uri.path().to_string());
            for (k, v) in &headers {
                store.headers.lock().unwrap().push((k.to_string(), v.to_str().unwrap_or("").to_string()));
            }
            match uri.path() {
                "/v1/traces" => {
                    if let Ok(req) = ExportTraceServiceRequest::decode(body) {
                        store.add_traces(req);
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
        let app = axum::Router::new().fallback(any).with_state(store.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Receiver { addr, store, shutdown: Some(tx) }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until `pred` holds for the received spans.
    pub async fn wait_spans(&self, within: Duration, pred: impl Fn(&[ReceivedSpan]) -> bool) -> Vec<ReceivedSpan> {
        let deadline = Instant::now() + within;
        loop {
            let spans = self.store.spans.lock().unwrap().clone();
            if pred(&spans) {
                return spans;
            }
            if Instant::now() > deadline {
                let names: Vec<String> =
                    spans.iter().map(|s| format!("{} [{} <- {}]", s.span.name, s.span_id(), s.parent_id())).collect();
                panic!("expected spans did not arrive within {within:?}; got {names:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until a metric named `name` arrived.
    pub async fn wait_metric(&self, name: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.store.metric_names().contains(name) {
            assert!(Instant::now() < deadline, "metric {name} never arrived; got {:?}", self.store.metric_names());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
