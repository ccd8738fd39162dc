-- The rows each published table holds (fingerprints.sql counted them).
SELECT view_name, sum(row_count) FROM temp.bi_fingerprints GROUP BY view_name;
