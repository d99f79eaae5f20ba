"""The Python side of the mixed_languages corpus: a print, a logged error, an uncaught error."""

import logging
import sys
import threading

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
log = logging.getLogger("worker")


def load(order):
    return {"a": 1}[order]


if sys.argv[1] == "logged":
    print(f"python worker: loading order {sys.argv[2]}")
    try:
        load(sys.argv[2])
    except KeyError:
        log.exception("order %s failed", sys.argv[2])
    log.info("continuing with the next order")
elif sys.argv[1] == "thread":
    t = threading.Thread(target=load, args=(sys.argv[2],), name="loader")
    t.start()
    t.join()
else:
    print(f"python worker: loading order {sys.argv[2]}")
    load(sys.argv[2])
