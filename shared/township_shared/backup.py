"""A township's documents out of every service's database and back: ``python -m township_shared.backup``
(decision 83, docs/operations.md).

    python -m township_shared.backup export --township qingshui --out qingshui-2026-12-01.jsonl.gz
    python -m township_shared.backup import --in qingshui-2026-12-01.jsonl.gz

A township's documents are, in each database ``<MONGODB_DB_PREFIX>_<service>`` of ``services.toml``, those whose
``township_id`` is the township, whose ``_id`` is the township (its settings: ``townships``), or whose string
``_id`` names it as one of its ``:``-separated parts (per-township counters: ``cases:qingshui``). Collections of
the deployment rather than of a township (:data:`DEPLOYMENT_COLLECTIONS`: leases, fold batches) are left out.

The file is gzip-compressed JSON lines: a header ``{"format", "version", "township_id", "exported_at",
"databases"}``, then one ``{"service", "collection", "doc"}`` per document, the document in MongoDB Extended JSON
(canonical), so every value comes back with its BSON type (dates, 64-bit integers, binary). Import upserts each
document by ``_id``: importing twice leaves the same documents, and documents of other townships are not
touched. Export reads each collection once, outside a transaction: documents changed during an export may be
caught before or after their change; stop the services (or accept that) for a point-in-time copy. A whole
deployment is backed up with the database's own tools (mongodump, volume snapshots); this is the product's copy
of one township, readable without the product's code, and movable to another deployment.
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
from datetime import timezone
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

from bson import json_util
from bson.json_util import CANONICAL_JSON_OPTIONS
from pymongo import MongoClient

FORMAT = "township-backup"
VERSION = 1
DEPLOYMENT_COLLECTIONS = frozenset({"leases", "figures_batches"})
JSON_OPTIONS = CANONICAL_JSON_OPTIONS.with_options(tz_aware=True, tzinfo=timezone.utc)


def township_filter(township_id: str) -> dict[str, Any]:
    """The documents of ``township_id`` in any collection (see the module docstring)."""
    part = township_id.replace("\\", "\\\\").replace(".", "\\.")
    return {"$or": [{"township_id": township_id}, {"_id": township_id},
                    {"_id": {"$regex": f"(^|:){part}(:|$)"}}]}


def databases(prefix: str, names: Iterable[str]) -> dict[str, str]:
    return {name: f"{prefix}_{name}" for name in names}


def export_lines(client: MongoClient, prefix: str, services: Iterable[str], township_id: str,
                 now: str) -> Iterator[str]:
    """The lines of a township's backup (header first)."""
    dbs = databases(prefix, services)
    yield json.dumps({"format": FORMAT, "version": VERSION, "township_id": township_id, "exported_at": now,
                      "databases": dbs}, ensure_ascii=False)
    query = township_filter(township_id)
    for service, db_name in dbs.items():
        db = client[db_name]
        for collection in sorted(db.list_collection_names()):
            if collection in DEPLOYMENT_COLLECTIONS or collection.startswith("system."):
                continue
            for doc in db[collection].find(query).sort("_id", 1):
                yield json.dumps({"service": service, "collection": collection,
                                  "doc": json.loads(json_util.dumps(doc, json_options=JSON_OPTIONS))},
                                 ensure_ascii=False)


def export(client: MongoClient, prefix: str, services: Iterable[str], township_id: str, out: IO[str],
           now: str) -> int:
    """Write the backup to ``out``; the number of documents."""
    count = -1
    for count, line in enumerate(export_lines(client, prefix, services, township_id, now)):
        out.write(line + "\n")
    return count


def restore(client: MongoClient, prefix: str, lines: Iterable[str]) -> dict[str, int]:
    """Upsert every document of a backup into ``<prefix>_<service>``; documents per ``service.collection``."""
    it = iter(lines)
    header = json.loads(next(it))
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        raise ValueError(f"not a {FORMAT} file of version {VERSION}: {header.get('format')} "
                         f"{header.get('version')}")
    counts: dict[str, int] = {}
    for line in it:
        if not line.strip():
            continue
        entry = json.loads(line)
        doc = json_util.loads(json.dumps(entry["doc"]), json_options=JSON_OPTIONS)
        if doc.get("township_id", header["township_id"]) != header["township_id"] and \
                doc["_id"] != header["township_id"]:
            raise ValueError(f"{entry['service']}.{entry['collection']} {doc['_id']}: not of township "
                             f"{header['township_id']}")
        client[f"{prefix}_{entry['service']}"][entry["collection"]].replace_one({"_id": doc["_id"]}, doc,
                                                                                upsert=True)
        key = f"{entry['service']}.{entry['collection']}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def main(argv: list[str] | None = None) -> int:
    from .clock import utcnow
    from .config import load_config
    from .mongo import make_client
    from .registry import services

    parser = argparse.ArgumentParser(prog="python -m township_shared.backup", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    out = sub.add_parser("export", help="write a township's documents to a file")
    out.add_argument("--township", required=True)
    out.add_argument("--out", required=True, help="a .jsonl.gz file (- for standard output, uncompressed)")
    inp = sub.add_parser("import", help="upsert a backup's documents")
    inp.add_argument("--in", dest="path", required=True)
    args = parser.parse_args(argv)
    config = load_config()
    client = make_client(config["MONGODB_URI"])
    prefix = config.get("MONGODB_DB_PREFIX", "township")
    if args.action == "export":
        names = [spec.name for spec in services()]
        if args.out == "-":
            count = export(client, prefix, names, args.township, sys.stdout, utcnow().isoformat())
        else:
            with gzip.open(Path(args.out), "wt", encoding="utf-8") as fh:
                count = export(client, prefix, names, args.township, fh, utcnow().isoformat())
        print(f"backup: {count} documents of {args.township} written to {args.out}", file=sys.stderr)
    else:
        opener = gzip.open if args.path.endswith(".gz") else open
        with opener(Path(args.path), "rt", encoding="utf-8") as fh:
            counts = restore(client, prefix, fh)
        print(f"backup: {sum(counts.values())} documents restored "
              f"({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
