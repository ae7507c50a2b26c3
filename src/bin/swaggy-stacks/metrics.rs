//! The reference service's trading instruments, all from the catalog.

use crate::market::{FEED, Market};
use crate::portfolio::Portfolio;
use std::sync::Arc;
use std::time::Duration;
use swaggy_telemetry::catalog::instruments::*;
use swaggy_telemetry::catalog::values::*;
use swaggy_telemetry::catalog::{BoundedStr, Counter, Histogram};

/// Typed handles for what the macros do not record (orders are recorded by
/// `#[instrument_trade]` on `Broker::submit`).
pub struct TradingMetrics {
    pub risk_checks: Counter<(RiskCheck, RiskOutcome)>,
    pub risk_duration: Histogram<(RiskCheck,)>,
    pub quotes: Counter<(MarketFeed,)>,
    pub cache: Counter<(CacheName, CacheResult)>,
}

impl TradingMetrics {
    /// Builds the handles on the installed meter.
    pub fn new() -> Arc<Self> {
        let meter = swaggy_telemetry::telemetry::meter();
        let m = TradingMetrics {
            risk_checks: RISK_CHECKS.build(&meter),
            risk_duration: RISK_CHECK_DURATION.build(&meter),
            quotes: MARKET_QUOTES.build(&meter),
            cache: CACHE_LOOKUPS.build(&meter),
        };
        for result in CacheResult::ALL {
            m.cache.bind(&(quote_cache(), *result));
        }
        // Order rejections and cancellations at 0 from start (the broker's macro records them).
        swaggy_telemetry::declare_trade_instruments();
        Arc::new(m)
    }

    /// A quote update from the feed.
    pub fn quote_received(&self) {
        self.quotes.add(1, (MarketFeed(BoundedStr::Static(FEED)),));
    }

    /// Records one risk check.
    pub fn risk(&self, check: RiskCheck, passed: bool, took: Duration) {
        let outcome = if passed { RiskOutcome::Pass } else { RiskOutcome::Fail };
        self.risk_checks.add(1, (check, outcome));
        self.risk_duration.record(took.as_secs_f64(), (check,));
    }
}

/// The quote cache's name (`swaggy.cache.name`).
pub fn quote_cache() -> CacheName {
    CacheName(BoundedStr::Static("quotes"))
}

/// Observable book gauges: they read the portfolio and market snapshots (no I/O).
pub fn register_book_gauges(portfolio: Arc<Portfolio>, market: Arc<Market>) {
    let meter = swaggy_telemetry::telemetry::meter();
    let (p, m) = (portfolio.clone(), market.clone());
    POSITION_QUANTITY.register(&meter, move |o| {
        for (symbol, qty) in p.positions() {
            o.observe(qty as f64, (Symbol(m.symbols().get(&symbol)),));
        }
    });
    let (p, m) = (portfolio.clone(), market.clone());
    EXPOSURE.register(&meter, move |o| {
        let e = p.exposure(&m);
        o.observe(e.gross, (ExposureKind::Gross,));
        o.observe(e.net, (ExposureKind::Net,));
        o.observe(e.long, (ExposureKind::Long,));
        o.observe(e.short, (ExposureKind::Short,));
    });
    let p = portfolio.clone();
    CASH.register(&meter, move |o| o.observe(p.cash(), ()));
    let p = portfolio.clone();
    PNL_REALIZED.register(&meter, move |o| o.observe(p.realized_pnl(), ()));
    let (p, m) = (portfolio, market.clone());
    PNL_UNREALIZED.register(&meter, move |o| o.observe(p.exposure(&m).unrealized_pnl, ()));
    MARKET_DATA_AGE
        .register(&meter, move |o| o.observe(market.age_ms() as f64 / 1000.0, (MarketFeed(BoundedStr::Static(FEED)),)));
}
