"""Append-only, hash-chained audit log (guidebook 管理時: security controls, retention, leak response).

The package: ``records`` (what a record may hold, its canonical JSON and hash, parsing a line), ``chain``
(checking a whole chain: ``verify``), ``writer`` (``AuditLog``: appending, locking, torn-line recovery), ``purge``
(the retention purge and its anchor) and ``files`` (durable file I/O). ``AuditError`` is in ``edgeanon.errors``.

File format
-----------
One JSON object per line (UTF-8, ``\\n``-terminated), written in this key order::

    {"seq": 7, "ts": "2025-04-01T09:00:00.000Z", "event": "start", ...fields, "prev": "<64 hex>", "hash": "<64 hex>"}

* ``seq`` counts records from 1 and increases by exactly 1 per record.
* ``ts`` is the record time in ISO 8601 UTC (from the injected clock, normally ``time.time``).
* ``prev`` is the ``hash`` of the previous record; the first record of a new log has ``GENESIS`` (64 zeros).
* ``hash`` is the SHA-256 of the canonical JSON of the record without ``hash``: ``json.dumps(..., sort_keys=True,
  separators=(",", ":"), ensure_ascii=False)`` encoded as UTF-8. Editing any field therefore changes the hash,
  and editing the hash too breaks the next record's ``prev``.
* With an HMAC key (``storage.audit_hmac_key_file``, checked by ``config.credentials.load_key``), a record carries
  ``"mac": "hmac-sha256"`` and its ``hash`` is the HMAC-SHA256 of the same canonical JSON under that key. Such a
  record cannot be written or rewritten without the key. Once a log holds a keyed record, every later record must be
  keyed; ``verify`` with the key also fails when no record is keyed (a log rewritten without the key). Unkeyed
  records before the first keyed one (a log that was keyed later) are protected too: rewriting them changes the
  ``prev`` that the first keyed record seals.

Each record is written with a single ``write`` followed by ``fsync``, under a lock, so threads may share one
``AuditLog``. One process at a time may write a log: the file is held with an exclusive ``flock`` while open.

What goes in
------------
Fields are small JSON values only: ``None``, bool, int, finite float, short strings, and short lists of those.
The caller passes hashes of the config and model, counts, reasons and rule ids. **Never** frames, boxes,
coordinates, track ids, embeddings or anything derived from a person; a few such field names are refused
outright as a last line of defence, and any numpy value is refused by type.

Events the service records:

``start``           ``version``, ``config_sha256``, ``model_sha256``, ``purposes`` (list of purpose names)
``stop``            ``reason`` (e.g. "SIGTERM"), ``flushed`` (buckets flushed to the store)
``purge``           ``table``, ``rows``, ``cutoff`` (ISO time) — retention purge of the aggregate store; ``by``
                    "export" when ``edgeanon export`` purged
``refusal``         ``reason``, ``rule`` (policy rule id) — a config or request refused by the policy
``setup_mode``      ``state`` ("on" at start-up, "off" when it expires), ``until`` — the installer mode of /setup
``audit_purge``     ``records``, ``cutoff`` — written by :meth:`AuditLog.purge` itself (see below)
``audit_recovered`` ``reason``, ``line``, ``removed_bytes`` — written on open when a torn final line was removed

Crash recovery
--------------
On open, only the last line is read to continue the chain (``seq``, ``prev``). If the file ends with an
unterminated line (a write torn by a crash or power loss), that partial line is truncated and an
``audit_recovered`` record says so. A *complete* last line that is not a valid, self-consistent record is not
something a crash produces: the log refuses to open (``AuditError``) and leaves the file untouched, so the
evidence is kept. Use :func:`verify` to check the whole file.

Retention and the purge anchor
------------------------------
:meth:`AuditLog.purge` removes the leading run of records older than ``retention_days`` (a chain can only lose a
prefix; a record that follows a newer one waits until everything before it is gone). The kept records are copied
byte for byte, so their hashes, and any head kept elsewhere, stay valid. The new file is::

    line 1   anchor   {"seq": <seq of last removed>, "ts", "event": "audit_purge", "records": n, "cutoff",
                       "prev": <hash of the last removed record>, "hash"}
    line 2.. the kept records, unchanged (the first one's prev is that same hash of the last removed record)
    last     confirm  {"seq": <next>, "ts", "event": "audit_purge", "records": n, "cutoff",
                       "anchor": <hash of line 1>, "prev": <previous head>, "hash"}

It is written to ``<path>.tmp`` in the same directory, fsynced, moved over the log with ``os.replace`` and the
directory is fsynced: a crash leaves either the old log or the new one, never a mix.

How :func:`verify` treats the anchor: the first line may have a ``prev`` other than ``GENESIS`` only if it is an
``audit_purge`` record without an ``anchor`` field. The anchor stands *beside* the chain, not in it: its own hash
must be correct, the next line must have ``prev == anchor.prev`` and ``seq == anchor.seq + 1``, and a later,
chained ``audit_purge`` record must name the anchor's hash (with the same ``records`` and ``cutoff``). That last
rule is what stops someone from cutting records off the start and writing a fresh anchor: the forged anchor would
have no confirming record, and adding one would mean appending to the chain (which moves the head, see below).
A first line with a non-genesis ``prev`` that is not such an anchor is reported as records deleted from the start.

Limits (read these before relying on the log)
---------------------------------------------
* Without a key, anyone who can write the file can rewrite the *whole* chain consistently. With a key, only who
  can read the key can (the service user, so a compromised service still can).
* Deleting records from the **end** leaves a valid shorter chain, keyed or not. Keep the current
  :meth:`AuditLog.head` somewhere else (the service exports it on ``/readyz`` and its ``seq`` as a gauge) and pass
  it to ``verify(path, expected_head=...)``.
* ``verify`` on a log that is being written may see the newest line half written and report a truncated last line.
"""
