use swaggy_telemetry::instrumented;

#[instrumented]
struct S;

fn main() {}
