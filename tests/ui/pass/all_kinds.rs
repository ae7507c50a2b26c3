//! Every shape of function the macros accept.
use swaggy_telemetry::catalog::values::{OrderSide, OrderType, RejectReason};
use swaggy_telemetry::{ErrorKind, TradeOutcome, TradeResult, instrument_mcp, instrument_query, instrument_trade, instrumented};

#[derive(Debug, ErrorKind)]
pub enum E {
    A,
    B(String),
}

#[instrumented]
fn unit() {}

#[instrumented]
fn early_return(x: i32) -> Result<i32, E> {
    if x < 0 {
        return Err(E::A);
    }
    let y: i32 = "7".parse().map_err(|_| E::B("nan".into()))?;
    Ok(x + y)
}

#[instrumented]
fn impl_trait_return(n: u32) -> impl Iterator<Item = u32> {
    0..n
}

#[instrumented]
fn with_lifetimes<'a>(a: &'a str, _b: &str) -> &'a str {
    a
}

#[instrumented]
fn generic<T>(v: Vec<T>) -> usize
where
    T: Clone,
{
    v.len()
}

#[instrumented(name = "custom")]
async fn async_fn(x: &str) -> Result<usize, std::io::Error> {
    Ok(x.len())
}

pub struct S(u64);

impl S {
    #[instrumented]
    pub fn by_ref(&self) -> u64 {
        self.0
    }
    #[instrumented]
    pub fn by_mut(&mut self) {
        self.0 += 1;
    }
    #[instrumented]
    pub fn by_value(self) -> u64 {
        self.0
    }
    #[instrumented]
    pub async fn async_method(&self, n: u64) -> u64 {
        self.0 + n
    }
}

#[async_trait::async_trait]
pub trait T {
    async fn go(&self) -> Result<(), E>;
}

#[async_trait::async_trait]
impl T for S {
    #[instrumented]
    async fn go(&self) -> Result<(), E> {
        Ok(())
    }
}

pub struct Done;
impl TradeOutcome for Done {
    fn trade_result(&self) -> TradeResult {
        TradeResult::Rejected(RejectReason::PositionLimit)
    }
}

#[instrument_trade(side = OrderSide::Buy, order_type = OrderType::Limit, name = "place")]
async fn place(_qty: u64) -> Result<Done, E> {
    Ok(Done)
}

#[instrument_query(system = "sqlite", operation = "DELETE", collection = "sessions")]
fn purge() -> Result<u64, E> {
    Ok(0)
}

#[instrument_mcp(method = "tools/list", kind = "server", server = "market")]
async fn list_tools() -> Vec<&'static str> {
    vec!["get_quote"]
}

fn main() {
    unit();
    let _ = early_return(1);
    let _ = impl_trait_return(3).count();
    let _ = with_lifetimes("a", "b");
    let _ = generic(vec![1]);
    let mut s = S(1);
    let _ = s.by_ref();
    s.by_mut();
    let _ = purge();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let _ = async_fn("x").await;
        let _ = s.async_method(1).await;
        let _ = T::go(&s).await;
        let _ = place(1).await;
        let _ = list_tools().await;
    });
    let _ = s.by_value();
}
