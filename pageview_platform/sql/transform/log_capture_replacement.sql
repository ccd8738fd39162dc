-- The capture replaced the partition's earlier content on the operator's confirmation.
INSERT INTO ops.capture_replacements
    (asset, partition_start, replaced_fingerprint, new_fingerprint, replaced_at, run_id)
VALUES ($asset, $start, $replaced_fingerprint, $new_fingerprint, $replaced_at, $run_id)
