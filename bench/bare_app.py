"""The baseline for bench/signup.py: a bare FastAPI route that inserts one row into SQLite (WAL,
synchronous=NORMAL, one connection per worker thread), under uvicorn with the same options.

    BARE_DB=/tmp/x.db python -m uvicorn bare_app:app --app-dir bench --port 8001
"""

from __future__ import annotations

import os
import sqlite3
import threading

from fastapi import FastAPI, Form

app = FastAPI()
local = threading.local()
DB = os.environ.get("BARE_DB", "bare.db")


def connection() -> sqlite3.Connection:
    if not hasattr(local, "db"):
        db = sqlite3.connect(DB, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA busy_timeout = 30000")
        db.execute("CREATE TABLE IF NOT EXISTS signup (id INTEGER PRIMARY KEY, email TEXT UNIQUE)")
        local.db = db
    opened: sqlite3.Connection = local.db
    return opened


@app.post("/subscribe")
def subscribe(email: str = Form(...)) -> dict[str, str]:
    connection().execute("INSERT INTO signup (email) VALUES (?)", (email,))
    return {"status": "ok"}


@app.get("/healthz")
def healthz() -> dict[str, str]:
    connection().execute("SELECT 1").fetchone()
    return {"status": "ok"}
