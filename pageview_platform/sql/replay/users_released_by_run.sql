SELECT count(*) AS released_rows FROM ops.users_quarantine_replays WHERE run_id = $run_id
