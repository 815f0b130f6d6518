-- 0007: events_name_ts carries campaign_id (issue 21). A window's partial edge hours are read from
-- raw events; with campaign_id= or group_by=campaign they filter or group by campaign_id, which the
-- index did not hold, so every row of such an hour was fetched from the heap (measured on the 20M-row
-- bench seed, a 57-minute partial hour of 15,789 rows grouped by campaign: 13.6 ms through the heap,
-- 6.7 ms index-only). The wider index costs ~17 % more index (1,008 -> 1,181 MB at 20M rows) and the
-- replayer's insert into it, which `bench replay` did not tell apart from its noise (bench/RESULTS.md,
-- "campaign_id in events_name_ts (migration 0007)").
--
-- Rebuilding it holds the table's lock for the build (~75 s per 20M events on 2 cores): ingest keeps
-- acknowledging into the WAL meanwhile, and the replayer catches up after.
DROP INDEX events_name_ts;
CREATE INDEX events_name_ts ON events (event_name, ts) INCLUDE (channel, uid, campaign_id);
