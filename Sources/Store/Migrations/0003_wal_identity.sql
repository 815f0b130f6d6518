-- 0003: the id of the WAL directory a checkpoint belongs to (the file wal.id in that directory).
-- Segment ids and offsets restart in a new directory, so a checkpoint is only trusted for the
-- directory it was taken in; for any other, the replayer replays that directory from its start.
ALTER TABLE wal_checkpoints ADD COLUMN wal_id text;
