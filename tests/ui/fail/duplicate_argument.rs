use swaggy_telemetry::instrumented;

#[instrumented(name = "a", name = "b")]
fn f() {}

fn main() {
    f();
}
