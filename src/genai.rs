//! GenAI client instrumentation for any LLM client (semantic conventions): a CLIENT span
//! `{gen_ai.operation.name} {gen_ai.request.model}`, `gen_ai.client.operation.duration` and
//! `gen_ai.client.token.usage` (input and output).
//!
//! ```no_run
//! # async fn f() {
//! use swaggy_telemetry::catalog::values::GenAiOperation;
//! let call = swaggy_telemetry::genai::GenAiCall::start(GenAiOperation::Chat, "openai", "gpt-4o-mini");
//! // … call the model inside `call.context()` …
//! call.finish(Ok(swaggy_telemetry::genai::Usage { input_tokens: 812, output_tokens: 96 }));
//! # }
//! ```
//!
//! Provider and model names are bounded: past 32 distinct values each folds into `other`.

use crate::catalog::instruments::{GEN_AI_CLIENT_OPERATION_DURATION, GEN_AI_CLIENT_TOKEN_USAGE};
use crate::catalog::key;
use crate::catalog::values::{ErrorType, GenAiModel, GenAiOperation, GenAiProvider, TokenType};
use crate::catalog::{BoundedSet, BoundedStr, Histogram};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use std::sync::{LazyLock, Mutex};
use std::time::Instant;

/// Tokens one call used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
}

type Handles = (
    Histogram<(GenAiOperation, GenAiProvider, TokenType, GenAiModel)>,
    Histogram<(GenAiOperation, GenAiProvider, GenAiModel, Option<ErrorType>)>,
    u64,
);

static HANDLES: LazyLock<Mutex<Option<Handles>>> = LazyLock::new(|| Mutex::new(None));
static PROVIDERS: LazyLock<BoundedSet> = LazyLock::new(|| BoundedSet::learning(32));
static MODELS: LazyLock<BoundedSet> = LazyLock::new(|| BoundedSet::learning(32));

fn with_handles<R>(f: impl FnOnce(&Handles) -> R) -> R {
    let generation = crate::telemetry::generation();
    let mut slot = HANDLES.lock().unwrap_or_else(|e| e.into_inner());
    if slot.as_ref().is_none_or(|h| h.2 != generation) {
        let meter = crate::telemetry::meter();
        *slot =
            Some((GEN_AI_CLIENT_TOKEN_USAGE.build(&meter), GEN_AI_CLIENT_OPERATION_DURATION.build(&meter), generation));
    }
    f(slot.as_ref().expect("just set"))
}

/// One GenAI call in flight.
pub struct GenAiCall {
    cx: Context,
    start: Instant,
    operation: GenAiOperation,
    provider: BoundedStr,
    model: BoundedStr,
    done: bool,
}

impl GenAiCall {
    /// Starts a call under the current context.
    pub fn start(operation: GenAiOperation, provider: &str, model: &str) -> GenAiCall {
        let tracer = crate::telemetry::tracer();
        let parent = Context::current();
        let span = tracer
            .span_builder(format!("{} {model}", operation.as_str()))
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new(key::GEN_AI_OPERATION_NAME, operation.as_str()),
                KeyValue::new(key::GEN_AI_PROVIDER_NAME, provider.to_string()),
                KeyValue::new(key::GEN_AI_REQUEST_MODEL, model.to_string()),
            ])
            .start_with_context(&tracer, &parent);
        GenAiCall {
            cx: parent.with_span(span),
            start: Instant::now(),
            operation,
            provider: PROVIDERS.get(provider),
            model: MODELS.get(model),
            done: false,
        }
    }

    /// The call's context (make the model request inside it).
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// Ends the call: its usage, or a bounded error class (`timeout`, `rate_limited`, an HTTP
    /// status, an error variant name).
    pub fn finish(mut self, outcome: Result<Usage, &'static str>) {
        self.end(outcome);
    }

    fn end(&mut self, outcome: Result<Usage, &'static str>) {
        self.done = true;
        let span = self.cx.span();
        let provider = GenAiProvider(self.provider.clone());
        let model = GenAiModel(self.model.clone());
        let error = match outcome {
            Ok(usage) => {
                span.set_attribute(KeyValue::new(key::GEN_AI_USAGE_INPUT_TOKENS, usage.input_tokens as i64));
                span.set_attribute(KeyValue::new(key::GEN_AI_USAGE_OUTPUT_TOKENS, usage.output_tokens as i64));
                with_handles(|h| {
                    for (kind, n) in [(TokenType::Input, usage.input_tokens), (TokenType::Output, usage.output_tokens)]
                    {
                        h.0.record(n as f64, (self.operation, provider.clone(), kind, model.clone()));
                    }
                });
                None
            }
            Err(e) => {
                span.set_attribute(KeyValue::new(key::ERROR_TYPE, e));
                span.set_status(Status::error(e));
                Some(ErrorType(BoundedStr::Static(e)))
            }
        };
        span.end();
        let elapsed = self.start.elapsed().as_secs_f64();
        with_handles(|h| h.1.record(elapsed, (self.operation, provider, model, error)));
    }
}

impl Drop for GenAiCall {
    fn drop(&mut self) {
        if !self.done {
            self.end(Err("cancelled"));
        }
    }
}
