-- 0004: coarser rollup levels (aligned power-of-two blocks of UTC days) and row versions.
-- docs/rollups.md explains the scheme: a window's whole days are the union of at most two blocks per
-- level instead of one daily bitmap per day.

-- One row per (event_name, level, block, channel) with at least one event, plus the all-channels row
-- under channel '' (as in rollup_daily). Level k (1..8) blocks cover 2^k consecutive UTC days and
-- start on a multiple of 2^k days since 1970-01-01, so blocks of one level never overlap and each
-- block of level k is exactly two blocks of level k-1 (level 0 is rollup_daily).
-- Every writer adds its events to every level in the same transaction as the daily rows (see
-- RollupWriter), so a block is never behind the days it covers.
CREATE TABLE rollup_blocks (
    event_name text NOT NULL,
    level smallint NOT NULL CHECK (level BETWEEN 1 AND 8),
    start timestamptz NOT NULL CHECK (extract(epoch FROM start)::bigint % (86400::bigint << level) = 0),
    channel text NOT NULL,
    total bigint NOT NULL CHECK (total >= 0),
    uniques integer NOT NULL CHECK (uniques >= 0),
    users bytea NOT NULL,
    version bigint NOT NULL,
    PRIMARY KEY (event_name, level, start, channel)
);
ALTER TABLE rollup_blocks ALTER COLUMN users SET STORAGE EXTERNAL;

-- Row versions: every insert or update of a rollup row takes a new number from one sequence, so a
-- (key, version) pair names one content for ever, even across a rebuild that deletes and re-inserts
-- the row. The metrics query reads versions with the keys and fetches only bitmaps it does not hold
-- at that version (the query cache), so a change by any node's replayer is seen at once.
CREATE SEQUENCE rollup_versions AS bigint;
ALTER TABLE rollup_hourly ADD COLUMN version bigint NOT NULL DEFAULT nextval('rollup_versions');
ALTER TABLE rollup_daily ADD COLUMN version bigint NOT NULL DEFAULT nextval('rollup_versions');
ALTER TABLE rollup_blocks ALTER COLUMN version SET DEFAULT nextval('rollup_versions');

-- Whether rollup_blocks covers every row of rollup_daily. A database that held daily rows before this
-- migration has no blocks for them: /metrics reads daily rows only (exact, slower over long windows)
-- until `event-metrics-service rollups rebuild` has built the blocks and set this to true.
ALTER TABLE rollup_status ADD COLUMN levels_complete boolean NOT NULL DEFAULT false;
UPDATE rollup_status SET levels_complete = NOT EXISTS (SELECT 1 FROM rollup_daily);
