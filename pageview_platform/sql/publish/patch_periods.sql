-- One published table ({table}, which warehouse/publish.py names) in a copy of the last file,
-- attached as `published`: its periods that changed whole (changed_periods.sql) deleted, then
-- read again from the warehouse's view of the same name.
DELETE FROM published.{table}
WHERE period_start IN (SELECT period_start FROM temp.bi_changed_periods WHERE view_name = $view);

INSERT INTO published.{table}
SELECT * FROM bi.{table}
WHERE period_start IN (SELECT period_start FROM temp.bi_changed_periods WHERE view_name = $view);
