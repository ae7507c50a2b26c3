-- Portable between PostgreSQL and SQLite (the service uses sqlx's Any driver).
-- Times are epoch milliseconds; money is DOUBLE PRECISION (a paper-trading demo, not a ledger).
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    order_type TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    limit_price DOUBLE PRECISION,
    status TEXT NOT NULL,
    reason TEXT,
    fill_price DOUBLE PRECISION,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS fills (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders (id),
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    price DOUBLE PRECISION NOT NULL,
    filled_at_ms BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS positions (
    symbol TEXT PRIMARY KEY,
    quantity BIGINT NOT NULL,
    avg_price DOUBLE PRECISION NOT NULL,
    realized_pnl DOUBLE PRECISION NOT NULL
);

CREATE TABLE IF NOT EXISTS account (
    id BIGINT PRIMARY KEY,
    cash DOUBLE PRECISION NOT NULL
);
