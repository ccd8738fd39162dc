SELECT count(*) AS released_rows FROM ops.pageviews_quarantine_replays WHERE run_id = $run_id
