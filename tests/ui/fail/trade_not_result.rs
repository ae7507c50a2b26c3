use swaggy_telemetry::catalog::values::{OrderSide, OrderType};
use swaggy_telemetry::instrument_trade;

#[instrument_trade(side = OrderSide::Buy, order_type = OrderType::Market)]
fn f() -> u64 {
    1
}

fn main() {
    let _ = f();
}
