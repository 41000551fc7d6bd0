-- closeorderd schema, version 6: close_attempts.outcome is one closed vocabulary, the same for API
-- v2 and v3 and for close and query rows; the answer in words goes in error (README, "The audit
-- vocabulary"). Before, a v3 close that succeeded read `unknown_code` with the internal
-- `unknown err_code CLOSE_204`, and query rows put text such as `retry (FREQUENCY_LIMITED)` or
-- `trade_state:SUCCESS` in outcome and nothing in error.
--
-- | outcome        | a close answered                          | a query answered                  |
-- |----------------|-------------------------------------------|-----------------------------------|
-- | closed         | closed now (v2 SUCCESS, v3 204)           | trade_state CLOSED or REVOKED     |
-- | already_closed | ORDERCLOSED / ORDER_CLOSED                | –                                 |
-- | not_exist      | ORDERNOTEXIST / ORDER_NOT_EXIST           | the same                          |
-- | paid           | ORDERPAID                                 | trade_state SUCCESS or REFUND     |
-- | not_paid       | –                                         | trade_state NOTPAY or PAYERROR    |
-- | paying         | –                                         | trade_state USERPAYING or ACCEPT  |
-- | retry          | no usable answer: retried                 | the same                          |
-- | config_error   | a merchant-wide setup fault               | the same                          |
-- | order_rejected | a fault in this order's own parameters    | the same                          |
-- | unknown_code   | an err_code closeorderd does not know     | the same                          |
--
-- Triggers rather than a CHECK: SQLite adds a CHECK to a table only by rebuilding it, which would
-- hold the write lock for as long as the whole audit table takes to copy (the app's INSERTs wait),
-- and would have to drop attempts whose order was deleted with foreign keys off. The triggers
-- refuse the same rows, INSERT and UPDATE alike, with a message naming the rule. (PostgreSQL's
-- migration adds a named CHECK.)

-- Rows already stored take the new words; the words they had go in error.
UPDATE close_attempts
SET outcome = CASE
        WHEN outcome IN ('trade_state:SUCCESS', 'trade_state:REFUND') THEN 'paid'
        WHEN outcome IN ('trade_state:CLOSED', 'trade_state:REVOKED') THEN 'closed'
        WHEN outcome IN ('trade_state:NOTPAY', 'trade_state:PAYERROR') THEN 'not_paid'
        WHEN outcome IN ('trade_state:USERPAYING', 'trade_state:ACCEPT') THEN 'paying'
        WHEN outcome LIKE 'retry (%' THEN 'retry'
        WHEN outcome LIKE 'configuration error (%' THEN 'config_error'
        WHEN outcome LIKE 'order rejected (%' THEN 'order_rejected'
        ELSE 'unknown_code'
    END,
    error = coalesce(error, replace(outcome, 'trade_state:', 'trade_state '))
WHERE outcome NOT IN ('closed', 'already_closed', 'not_exist', 'paid', 'not_paid', 'paying', 'retry',
                      'config_error', 'order_rejected', 'unknown_code');

-- A v3 close answered 204: WeChat Pay said it closed the order (its query row confirms it).
UPDATE close_attempts SET outcome = 'closed', error = NULL
WHERE outcome = 'unknown_code' AND error = 'unknown err_code CLOSE_204';

-- The same internal name in a retry's reason.
UPDATE pending_orders SET last_error = replace(last_error, 'err_code CLOSE_204', 'HTTP 204 to the close')
WHERE last_error LIKE '%CLOSE_204%';

CREATE TRIGGER close_attempts_outcome_insert BEFORE INSERT ON close_attempts
WHEN NEW.outcome NOT IN ('closed', 'already_closed', 'not_exist', 'paid', 'not_paid', 'paying', 'retry',
                         'config_error', 'order_rejected', 'unknown_code')
BEGIN
    SELECT RAISE(ABORT, 'close_attempts.outcome must be one of closed, already_closed, not_exist, paid, not_paid, paying, retry, config_error, order_rejected, unknown_code (the words go in error)');
END;

CREATE TRIGGER close_attempts_outcome_update BEFORE UPDATE OF outcome ON close_attempts
WHEN NEW.outcome NOT IN ('closed', 'already_closed', 'not_exist', 'paid', 'not_paid', 'paying', 'retry',
                         'config_error', 'order_rejected', 'unknown_code')
BEGIN
    SELECT RAISE(ABORT, 'close_attempts.outcome must be one of closed, already_closed, not_exist, paid, not_paid, paying, retry, config_error, order_rejected, unknown_code (the words go in error)');
END;
