-- closeorderd schema, version 8 (issue 25): the merchant's app reads every finished order, in
-- order, from a cursor (finished_ms, id), without a scan and without missing one (README, "Reading
-- outcomes as they happen").
--
-- | what                                   | how                                                    |
-- |----------------------------------------|--------------------------------------------------------|
-- | the cursor query is an index range     | pending_orders_feed on (finished_ms, id)               |
-- | a later commit never stamps lower      | every write transaction that finishes rows stamps them |
-- |   than one already committed           |   max(now, newest finished_ms + 1), read inside that    |
-- |                                        |   transaction (SQLite has one writer at a time)        |
-- | a row the app marks paid is stamped    | trigger pending_orders_feed_stamp                      |
-- | a conflict set later on a finished row | the same trigger stamps it again, so the app reads it  |
-- |   (the app's paid raced a close)       |   once more, with its conflict                          |
--
-- closeorderd's own writes (the daemon, `abandon`) compute the stamp once per transaction in the
-- store (SQLiteOrderStore+Feed.swift), so a batch of orders shares one millisecond and the stamps
-- stay on the clock; the trigger covers every other writer, one row at a time (finished_ms is
-- left as it was by such a writer, so the trigger tells them apart by that). Rows finished before
-- this version keep their finished_ms; rows the app marked paid before it have none and are not
-- in the feed.

CREATE INDEX pending_orders_feed ON pending_orders (finished_ms, id) WHERE finished_ms IS NOT NULL;

CREATE TRIGGER pending_orders_feed_stamp
AFTER UPDATE OF status, conflict ON pending_orders
WHEN NEW.status NOT IN ('pending', 'closing') AND NEW.finished_ms IS OLD.finished_ms
     AND (OLD.status IN ('pending', 'closing') OR OLD.conflict IS NULL AND NEW.conflict IS NOT NULL)
BEGIN
    UPDATE pending_orders
    SET finished_ms = max(CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
                          coalesce((SELECT max(finished_ms) FROM pending_orders WHERE finished_ms IS NOT NULL), 0) + 1)
    WHERE id = NEW.id;
END;
