-- closeorderd PostgreSQL schema, version 3: retention (retention.keep_days, `closeorderd prune`)
-- finds the oldest finished orders through an index, as migration 4 does on SQLite. A row's finish
-- time is finished_ms; a row the merchant marked paid has none, and its created_at stands in.
-- Pending and closing rows are not in this index, and retention never deletes them.

CREATE INDEX pending_orders_finished ON pending_orders ((coalesce(finished_ms, created_at * 1000)))
    WHERE status IN ('closed', 'paid', 'failed');
