SELECT
    count(*) AS quarantined_rows,
    count(*) FILTER (reason = 'missing_user_id') AS missing_user_id,
    count(*) FILTER (reason = 'missing_url') AS missing_url,
    count(*) FILTER (reason = 'blank_url') AS blank_url,
    count(*) FILTER (reason = 'missing_pageview_datetime') AS missing_pageview_datetime,
    count(*) FILTER (reason = 'before_start_date') AS before_start_date,
    count(*) FILTER (reason = 'after_load_window') AS after_load_window
FROM core.pageviews_quarantine
WHERE load_hour >= $start AND load_hour < $end
