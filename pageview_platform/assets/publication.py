"""What the steps that change the answers do once they have committed: publish the BI database
(on DuckDB) and report the six `bi` views as materialized (assets/bi.py declares them)."""

from __future__ import annotations

from collections.abc import Iterator

from dagster import AssetKey, AssetMaterialization

from pageview_platform.warehouse.publish import BI_VIEWS, BIDatabase, Publication
from pageview_platform.warehouse.session import Connection

BI_VIEW_KEYS = {view: AssetKey(["bi", view]) for view in BI_VIEWS}


def publish_bi_database(
    con: Connection, bi_database: BIDatabase, log
) -> Iterator[AssetMaterialization]:
    """Publishes what CON's warehouse holds now (nothing on Snowflake, where BI tools read the
    views themselves) and returns the `bi` views' materializations to report.

    CON is the step's connection after its transaction committed, outside any other: while it
    holds the warehouse no other process commits, so the file is that one committed state."""
    publication = bi_database.publish(con)
    if publication is not None:
        log.info(
            f"published {publication.path} ({publication.size_bytes} bytes,"
            f" {publication.described},"
            f" {publication.rows_written} rows written) in {publication.seconds:.2f} s"
        )
    return [
        AssetMaterialization(key, metadata=publication_metadata(publication, view))
        for view, key in BI_VIEW_KEYS.items()
    ]


def publication_metadata(publication: Publication | None, view: str) -> dict[str, object]:
    """What the UI shows of a publish for one view: its rows, the file and the publish's time."""
    if publication is None:
        return {"served_by": "the Snowflake view, read by the BI role"}
    return {
        "dagster/row_count": publication.rows[view],
        "published_to": str(publication.path),
        "bytes": publication.size_bytes,
        "seconds_publish": round(publication.seconds, 3),
        # A copy of the last file with the changed periods rewritten, a new file, or unchanged.
        "publish": publication.how,
        # What a patch started from: a copy of the published file, or the spare (the file the
        # last publish replaced, when no reader held it).
        **({"publish_from": publication.base} if publication.base else {}),
        "rows_written": publication.rows_written,
        # Where the publish's seconds went (the bench reads `seconds_*` as a step's parts).
        **{f"seconds_publish.{phase}": round(s, 3) for phase, s in publication.phases.items()},
    }
