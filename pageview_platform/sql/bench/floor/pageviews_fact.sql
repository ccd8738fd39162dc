-- Known identities counted higher in this load are raised, at the rows the lookup found (an
-- identity counts max over loads); new ones are inserted in time order, so lookups of recent
-- hours read only their row groups; the spans of the hours they reach widen.
UPDATE pageview_fact
SET view_count = k.view_count
FROM known_views AS k
WHERE pageview_fact.rowid = k.fact_row AND k.view_count > k.previous_count;

INSERT INTO pageview_fact
SELECT pageview_hour, user_id, url, pageview_datetime, view_count, postcode_at_view
FROM new_views
ORDER BY pageview_datetime;

MERGE INTO fact_hours AS s
USING (
    SELECT pageview_hour, min(pageview_datetime) AS first_view, max(pageview_datetime) AS last_view
    FROM new_views
    GROUP BY pageview_hour
) AS n
ON s.pageview_hour = n.pageview_hour
WHEN MATCHED THEN UPDATE SET
    first_view = least(s.first_view, n.first_view),
    last_view = greatest(s.last_view, n.last_view)
WHEN NOT MATCHED THEN INSERT VALUES (n.pageview_hour, n.first_view, n.last_view);
