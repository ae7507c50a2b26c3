use swaggy_telemetry::instrumented;

#[instrumented(name = 42)]
fn f() {}

fn main() {
    f();
}
