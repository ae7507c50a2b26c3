-- Idempotent order submission: a client may name its order; a retry with the same name returns
-- the stored order instead of trading twice. NULLs (orders without a name) never collide, in
-- PostgreSQL and SQLite alike.
ALTER TABLE orders ADD COLUMN client_order_id TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS orders_client_order_id ON orders (client_order_id);
