-- 0002: hourly and daily rollups of events, maintained by the replayer in the same transaction as the
-- raw rows, so GET /metrics unions a few bitmaps instead of scanning millions of rows.

-- One row per (event_name, hour, channel) with at least one event, plus one all-channels row per
-- (event_name, hour) under channel '' (the empty string): events can never carry that channel (the
-- event parser rejects empty strings, and the CHECK below holds it in the database), so the
-- all-channels row cannot collide with a real one.
--   total    events in the bucket
--   uniques  distinct uids in the bucket, i.e. the cardinality of users, so per-group unique counts
--            need no bitmap at all
--   users    the uids as a Roaring bitmap in CRoaring's portable serialization
-- The primary key leads with event_name and the time bucket: every metrics query reads one event name
-- over a time range, for one channel, all of them, or the all-channels row; keeping an hour's channels
-- together makes each of those a single contiguous index range.
CREATE TABLE rollup_hourly (
    event_name text NOT NULL,
    hour timestamptz NOT NULL CHECK (extract(epoch FROM hour)::bigint % 3600 = 0),
    channel text NOT NULL,
    total bigint NOT NULL CHECK (total >= 0),
    uniques integer NOT NULL CHECK (uniques >= 0),
    users bytea NOT NULL,
    PRIMARY KEY (event_name, hour, channel)
);

-- The same per UTC day. A metrics window uses whole days from here, the hours at its edges from
-- rollup_hourly and only partial hours from events.
CREATE TABLE rollup_daily (
    event_name text NOT NULL,
    day timestamptz NOT NULL CHECK (extract(epoch FROM day)::bigint % 86400 = 0),
    channel text NOT NULL,
    total bigint NOT NULL CHECK (total >= 0),
    uniques integer NOT NULL CHECK (uniques >= 0),
    users bytea NOT NULL,
    PRIMARY KEY (event_name, day, channel)
);

-- Bitmaps are already compact: store them out of line without pglz, which would cost CPU on every
-- write and every metrics read for little gain.
ALTER TABLE rollup_hourly ALTER COLUMN users SET STORAGE EXTERNAL;
ALTER TABLE rollup_daily ALTER COLUMN users SET STORAGE EXTERNAL;

-- The all-channels rows above depend on it.
ALTER TABLE events ADD CONSTRAINT events_channel_not_empty CHECK (channel <> '');

-- Whether the rollups cover every row of events. A database that already held events when this
-- migration ran has none of them in rollups: /metrics answers from raw SQL until
-- `event-metrics-service rollups rebuild` has rebuilt them all and set this to true.
CREATE TABLE rollup_status (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    complete boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO rollup_status (complete) SELECT NOT EXISTS (SELECT 1 FROM events);
