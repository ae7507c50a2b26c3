use swaggy_telemetry::instrumented;

#[instrumented(nmae = "typo")]
fn f() {}

fn main() {
    f();
}
