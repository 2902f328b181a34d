"""`mtfix batch`: clean many documents (folders of text, JSONL, Parquet), resumably.

Layout: `plan` (inputs -> shards, done markers), `records` (readers and `repair_records`,
the one repair step), `writers` (atomic shard outputs), `local` and `ray_engine` (the two
engines), `report` (edits.jsonl, errors.jsonl, summary.json), `runner` (the driver) and
`command` (the CLI). Ray and pyarrow are imported only when a job needs them.
"""

from .command import batch_command
from .records import repair_records

__all__ = ["batch_command", "repair_records"]
