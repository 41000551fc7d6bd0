#!/usr/bin/env python3
"""P1r's reference: the cron job a merchant would write with a mainstream SDK instead of running
closeorderd. Sequential, as such scripts are: select the due unpaid orders, then for each one call
pay/closeorder through wechatpy (one round trip) and UPDATE its row (one commit).

    close_unpaid_wechatpy.py CONFIG.json

It reads the daemon's own config file (database path, WeChat Pay URL, merchants and their key
files), so no key is ever on the command line. Prints one JSON line of counts on stdout.
"""
import json
import sqlite3
import sys
import time

from wechatpy.exceptions import WeChatPayException
from wechatpy.pay import WeChatPay

# WeChat's answers that leave the order closed, as the daemon reads them.
DONE = {"ORDERCLOSED": "already_closed", "ORDERNOTEXIST": "not_exist"}


def main(config_path):
    with open(config_path) as f:
        config = json.load(f)
    base_url = config["wechatpay"]["primary_url"].rstrip("/") + "/"
    clients = {}
    for mch_id, merchant in config["merchants"].items():
        with open(merchant["key_file"]) as f:
            key = f.read().strip()
        client = WeChatPay(appid=merchant["appids"][0], api_key=key, mch_id=mch_id, timeout=10)
        client.API_BASE_URL = base_url
        clients[mch_id] = client

    db = sqlite3.connect(config["database"]["path"], timeout=10)
    now_ms = int(time.time() * 1000)
    due = db.execute(
        "SELECT id, mch_id, out_trade_no FROM pending_orders"
        " WHERE status = 'pending' AND next_attempt_ms <= ? ORDER BY next_attempt_ms",
        (now_ms,),
    ).fetchall()
    closed = failed = 0
    for row_id, mch_id, out_trade_no in due:
        try:
            clients[mch_id].order.close(out_trade_no)
            outcome = "closed"
        except WeChatPayException as error:
            outcome = DONE.get(error.errcode)
            if outcome is None:
                failed += 1
                db.execute(
                    "UPDATE pending_orders SET attempts = attempts + 1, last_err_code = ? WHERE id = ?",
                    (error.errcode or error.return_code, row_id),
                )
                db.commit()
                continue
        db.execute(
            "UPDATE pending_orders SET status = 'closed', outcome = ?, attempts = attempts + 1,"
            " finished_ms = ? WHERE id = ?",
            (outcome, int(time.time() * 1000), row_id),
        )
        db.commit()
        closed += 1
    print(json.dumps({"due": len(due), "closed": closed, "failed": failed}))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
