"""What RDS for PostgreSQL accepts for `engineVersion` and `instanceClass`, as a dated table.

No AWS API is called at preview time, so the table is the stack's copy of what
`aws rds describe-orderable-db-instance-options --engine postgres` (fields EngineVersion, DBInstanceClass) and
`aws rds describe-db-engine-versions --engine postgres` answer. Sources, as of AS_OF:
- minor versions: the RDS notice of May 2026 on the end of standard support of 14.14-14.17, 15.9-15.12,
  16.5-16.8 and 17.1-17.4 (no new instances on them since 2026-05-01; upgrade targets 14.20, 15.15, 16.11, 17.7)
  and the RDS for PostgreSQL release calendar
  (https://docs.aws.amazon.com/AmazonRDS/latest/PostgreSQLReleaseNotes/postgresql-release-calendar.html):
  what remains creatable is listed below; a newer minor is refused until the table is updated (fail closed:
  RDS itself would refuse an unknown one, after resources were planned);
- instance classes: the RDS User Guide, "Supported DB engines for DB instance classes" (PostgreSQL column);
  which class a region offers is not judged here (describe-orderable-db-instance-options answers per region).
tests/test_settings_two_pass.py fails once AS_OF is more than a year old: re-check the table then.
"""
from __future__ import annotations

from datetime import date

AS_OF = date(2026, 5, 30)

# major -> the minors a new instance can be created on. A major alone ("16") lets RDS pick its default minor.
ENGINE_MINOR_VERSIONS: dict[int, tuple[int, ...]] = {
    14: (18, 19, 20),
    15: (13, 14, 15),
    16: (9, 10, 11),
    17: (5, 6, 7),
}

_BURSTABLE = ("micro", "small", "medium", "large", "xlarge", "2xlarge")
_TO_16X = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge")
_TO_24X = (*_TO_16X, "24xlarge")
_TO_32X = (*_TO_24X, "32xlarge")
_TO_48X = (*_TO_24X, "48xlarge")

# family -> sizes RDS for PostgreSQL offers (db.<family>.<size>).
INSTANCE_FAMILIES: dict[str, tuple[str, ...]] = {
    "t3": _BURSTABLE, "t4g": _BURSTABLE,
    "m5": _TO_24X, "m5d": _TO_24X, "m6g": _TO_16X, "m6gd": _TO_16X, "m6i": _TO_32X, "m6id": _TO_32X,
    "m6idn": _TO_32X, "m6in": _TO_32X, "m7g": _TO_16X, "m7i": _TO_48X, "m8g": _TO_48X,
    "r5": _TO_24X, "r5b": _TO_24X, "r5d": _TO_24X, "r6g": _TO_16X, "r6gd": _TO_16X, "r6i": _TO_32X,
    "r6id": _TO_32X, "r6idn": _TO_32X, "r6in": _TO_32X, "r7g": _TO_16X, "r7i": _TO_48X, "r8g": _TO_48X,
    "x2g": _TO_16X,
    "x2iedn": ("xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge", "24xlarge", "32xlarge"),
}

INSTANCE_CLASSES: frozenset[str] = frozenset(f"db.{family}.{size}" for family, sizes in INSTANCE_FAMILIES.items()
                                             for size in sizes)


def engine_versions() -> list[str]:
    """Every accepted engineVersion: each major alone, and each creatable major.minor."""
    return [version for major, minors in ENGINE_MINOR_VERSIONS.items()
            for version in (str(major), *(f"{major}.{minor}" for minor in minors))]
