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
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

struct Instruments {
    duration: Histogram<(AgentTask, AgentOutcome)>,
    count: Counter<(AgentTask, AgentOutcome)>,
    agents: Histogram<(AgentTask,)>,
    calls: Histogram<(AgentTask,)>,
    generation: u64,
}

static INSTRUMENTS: LazyLock<Mutex<Option<Instruments>>> = LazyLock::new(|| Mutex::new(None));

/// Runs `f` with the handles, rebuilt after a (re)install of telemetry.
fn with_instruments(f: impl FnOnce(&Instruments)) {
    let generation = crate::telemetry::generation();
    let mut slot = INSTRUMENTS.lock().unwrap_or_else(|e| e.into_inner());
    if slot.as_ref().is_none_or(|i| i.generation != generation) {
        let meter = crate::telemetry::meter();
        *slot = Some(Instruments {
            duration: AGENT_COORDINATION_DURATION.build(&meter),
            count: AGENT_COORDINATIONS.build(&meter),
            agents: AGENT_COORDINATION_AGENTS.build(&meter),
            calls: AGENT_COORDINATION_CALLS.build(&meter),
            generation,
        });
    }
    if let Some(i) = slot.as_ref() {
        f(i);
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
    let task = AgentTask(BoundedStr::Static(task));
    with_instruments(|h| {
        h.duration.record(duration.as_secs_f64(), (task.clone(), outcome));
        h.count.add(1, (task.clone(), outcome));
        h.agents.record(agents as f64, (task.clone(),));
        h.calls.record(f64::from(calls), (task.clone(),));
    });
}

/// Exports `swaggy.agent.coordinations` at 0 for every outcome of `task` from now on, so an
/// `increase()`-based alert sees the first failure of a task that has never failed (call once at
/// start for each task the application runs).
pub fn declare_coordination_task(task: &'static str) {
    let task = AgentTask(BoundedStr::Static(task));
    with_instruments(|h| {
        for outcome in AgentOutcome::ALL {
            h.count.add(0, (task.clone(), *outcome));
        }
    });
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
