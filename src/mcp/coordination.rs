//! Agent coordination: one agent task that spans several MCP calls, possibly across servers and
//! agents. A [`Coordination`] is a parent span over its calls and, when it finishes, the
//! catalog's coordination metrics: duration, agents involved, calls made, outcome.

use crate::catalog::instruments::{
    AGENT_COORDINATION_AGENTS, AGENT_COORDINATION_CALLS, AGENT_COORDINATION_DURATION, AGENT_COORDINATIONS,
};
use crate::catalog::key;
use crate::catalog::values::{AgentOutcome, AgentTask};
use crate::catalog::{BoundedStr, Counter, Histogram};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

struct Instruments {
    duration: Histogram<(AgentTask, AgentOutcome)>,
    count: Counter<(AgentTask, AgentOutcome)>,
    agents: Histogram<(AgentTask,)>,
    calls: Histogram<(AgentTask,)>,
    generation: u64,
}

fn instruments() -> &'static Mutex<Option<&'static Instruments>> {
    static I: OnceLock<Mutex<Option<&'static Instruments>>> = OnceLock::new();
    I.get_or_init(|| Mutex::new(None))
}

/// The handles, rebuilt after a (re)install of telemetry.
fn handles() -> &'static Instruments {
    let generation = crate::telemetry::generation();
    let mut slot = instruments().lock().unwrap_or_else(|e| e.into_inner());
    match *slot {
        Some(i) if i.generation == generation => i,
        _ => {
            let meter = crate::telemetry::meter();
            // Leaked once per install: a handful of handles for the life of the process.
            let i: &'static Instruments = Box::leak(Box::new(Instruments {
                duration: AGENT_COORDINATION_DURATION.build(&meter),
                count: AGENT_COORDINATIONS.build(&meter),
                agents: AGENT_COORDINATION_AGENTS.build(&meter),
                calls: AGENT_COORDINATION_CALLS.build(&meter),
                generation,
            }));
            *slot = Some(i);
            i
        }
    }
}

/// Records one finished coordination (the seed's `record_mcp_agent_coordination`).
pub fn record_mcp_agent_coordination(
    task: &'static str,
    agents: usize,
    calls: u32,
    duration: Duration,
    outcome: AgentOutcome,
) {
    let h = handles();
    let task = AgentTask(BoundedStr::Static(task));
    h.duration.record(duration.as_secs_f64(), (task.clone(), outcome));
    h.count.add(1, (task.clone(), outcome));
    h.agents.record(agents as f64, (task.clone(),));
    h.calls.record(f64::from(calls), (task,));
}

/// One agent task in flight. Run its calls through [`Coordination::step`] (or inside
/// [`Coordination::context`]) so they become children of its span, then [`Coordination::finish`].
/// Dropped unfinished, it records a failure.
pub struct Coordination {
    task: &'static str,
    cx: Context,
    start: Instant,
    agents: Mutex<Vec<&'static str>>,
    calls: AtomicU32,
    done: bool,
}

impl Coordination {
    /// Starts a coordination of `task` (a fixed name: it is a metric attribute) under the
    /// current context.
    pub fn start(task: &'static str) -> Coordination {
        let tracer = crate::telemetry::tracer();
        let parent = Context::current();
        let span = tracer
            .span_builder(format!("coordinate {task}"))
            .with_kind(SpanKind::Internal)
            .with_attributes([KeyValue::new(key::AGENT_TASK, task)])
            .start_with_context(&tracer, &parent);
        Coordination {
            task,
            cx: parent.with_span(span),
            start: Instant::now(),
            agents: Mutex::new(Vec::new()),
            calls: AtomicU32::new(0),
            done: false,
        }
    }

    /// The coordination's context (parent of its calls).
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// Runs one MCP call made by `agent` as a child of the coordination, counting it.
    pub async fn step<F: Future>(&self, agent: &'static str, call: F) -> F::Output {
        if let Ok(mut a) = self.agents.lock()
            && !a.contains(&agent)
        {
            a.push(agent);
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        call.with_context(self.cx.clone()).await
    }

    /// Ends the coordination with `outcome` and records its metrics.
    pub fn finish(mut self, outcome: AgentOutcome) {
        self.end(outcome);
    }

    fn end(&mut self, outcome: AgentOutcome) {
        self.done = true;
        let agents = self.agents.lock().map(|a| a.len()).unwrap_or(0);
        let calls = self.calls.load(Ordering::Relaxed);
        let span = self.cx.span();
        span.set_attribute(KeyValue::new(key::AGENT_OUTCOME, outcome.as_str()));
        if outcome == AgentOutcome::Failure {
            span.set_status(Status::error("coordination failed"));
        }
        span.end();
        record_mcp_agent_coordination(self.task, agents, calls, self.start.elapsed(), outcome);
    }
}

impl Drop for Coordination {
    fn drop(&mut self) {
        if !self.done {
            self.end(AgentOutcome::Failure);
        }
    }
}
