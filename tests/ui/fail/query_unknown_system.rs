use swaggy_telemetry::instrument_query;

#[instrument_query(system = "oracle", operation = "SELECT")]
fn f() {}

fn main() {
    f();
}
