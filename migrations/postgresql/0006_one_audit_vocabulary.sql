-- closeorderd PostgreSQL schema, version 6: close_attempts.outcome is one closed vocabulary, the
-- same for API v2 and v3 and for close and query rows, as SQLite's migration 6 makes it (its header
-- tabulates the words); the answer in words goes in error. Rows already stored take the new words
-- first, then a named CHECK refuses any other.

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

ALTER TABLE close_attempts ADD CONSTRAINT close_attempts_outcome_is_one_vocabulary
    CHECK (outcome IN ('closed', 'already_closed', 'not_exist', 'paid', 'not_paid', 'paying', 'retry',
                       'config_error', 'order_rejected', 'unknown_code'));
