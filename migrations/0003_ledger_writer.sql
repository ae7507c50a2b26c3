-- The ledger's fencing token. The instance that takes the writer lock bumps it (once per time it
-- takes the lock) before it reads the book; every order transaction first checks, on this row,
-- that the token is still its own. An instance that lost the lock without noticing yet (its lock
-- connection was cut; it finds out at its next check) can therefore commit nothing once another
-- instance has taken over, and the row lock orders its last commit before the new writer's claim.
CREATE TABLE IF NOT EXISTS ledger_writer (
    id INTEGER PRIMARY KEY,
    token BIGINT NOT NULL
);
INSERT INTO ledger_writer (id, token) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
