"""AWS regions and partitions as botocore knows them (its data/endpoints.json and data/partitions.json, the files
every AWS SDK call of this project resolves endpoints from), instead of a pattern that also admits `us-fake-9`."""
from __future__ import annotations

import difflib
import functools
import json
from pathlib import Path
from typing import Any, Optional

import botocore


def _botocore_data(name: str) -> Any:
    return json.loads((Path(botocore.__file__).parent / "data" / name).read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def region_partitions() -> dict[str, str]:
    """{region: partition id} of every region botocore lists (endpoints.json's partitions and partitions.json's
    region lists: the union, so a region only the newer file knows still counts)."""
    regions: dict[str, str] = {}
    for file, partition_key in (("endpoints.json", "partition"), ("partitions.json", "id")):
        for partition in _botocore_data(file).get("partitions", []):
            for region in partition.get("regions", {}):
                regions.setdefault(region, partition[partition_key])
    return regions


def partition_of(region: str) -> Optional[str]:
    return region_partitions().get(region)


def check_region(value: str) -> str:
    if value not in region_partitions():
        close = difflib.get_close_matches(value, list(region_partitions()), n=1)
        hint = f"; did you mean {close[0]}?" if close else " (e.g. us-east-1)"
        raise ValueError(f"'{value}' is not an AWS region botocore {botocore.__version__} knows{hint}")
    return value
