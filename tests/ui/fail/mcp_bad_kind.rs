use swaggy_telemetry::instrument_mcp;

#[instrument_mcp(method = "tools/call", kind = "peer")]
fn f() {}

fn main() {
    f();
}
