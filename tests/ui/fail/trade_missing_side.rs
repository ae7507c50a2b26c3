use swaggy_telemetry::catalog::values::OrderType;
use swaggy_telemetry::instrument_trade;

#[instrument_trade(order_type = OrderType::Market)]
fn f() -> Result<(), ()> {
    Ok(())
}

fn main() {
    let _ = f();
}
