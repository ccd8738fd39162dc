-- One published table's rows ({table}, which warehouse/publish.py names): a plain count(*)
-- reads the table's metadata.
SELECT count(*) FROM published.{table};
