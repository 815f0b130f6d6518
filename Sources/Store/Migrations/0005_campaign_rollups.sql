-- 0005: the campaign dimension of the rollups (issue 21): the same hourly, daily and block rows as
-- 0002/0004, per campaign and channel, so GET /metrics answers campaign_id= and group_by=campaign
-- from bitmaps. docs/rollups.md has the design and what it costs.
--
-- `campaign` is the event's campaign_id, or '' for events without one: events store a missing
-- campaign as NULL (the parser turns "" and null into absent), so '' cannot collide with a real id.
-- There are no all-channels rows here: a campaign over all channels is the union of its channel rows
-- (few channels), which keeps the replayer's writes per campaign to one row per channel.
-- Keys lead with event_name and the bucket, like the tables they mirror (group_by=campaign reads every
-- campaign of a bucket as one index range); the secondary indexes on (event_name, campaign, bucket)
-- serve the campaign_id= filter without reading the other campaigns' keys. Blocks are only ever read
-- at exact (level, start) keys, so their primary key serves both.
CREATE TABLE rollup_campaign_hourly (
    event_name text NOT NULL,
    hour timestamptz NOT NULL CHECK (extract(epoch FROM hour)::bigint % 3600 = 0),
    campaign text NOT NULL,
    channel text NOT NULL CHECK (channel <> ''),
    total bigint NOT NULL CHECK (total >= 0),
    uniques integer NOT NULL CHECK (uniques >= 0),
    users bytea NOT NULL,
    version bigint NOT NULL DEFAULT nextval('rollup_versions'),
    PRIMARY KEY (event_name, hour, campaign, channel)
);
CREATE INDEX rollup_campaign_hourly_campaign ON rollup_campaign_hourly (event_name, campaign, hour);

CREATE TABLE rollup_campaign_daily (
    event_name text NOT NULL,
    day timestamptz NOT NULL CHECK (extract(epoch FROM day)::bigint % 86400 = 0),
    campaign text NOT NULL,
    channel text NOT NULL CHECK (channel <> ''),
    total bigint NOT NULL CHECK (total >= 0),
    uniques integer NOT NULL CHECK (uniques >= 0),
    users bytea NOT NULL,
    version bigint NOT NULL DEFAULT nextval('rollup_versions'),
    PRIMARY KEY (event_name, day, campaign, channel)
);
CREATE INDEX rollup_campaign_daily_campaign ON rollup_campaign_daily (event_name, campaign, day);

CREATE TABLE rollup_campaign_blocks (
    event_name text NOT NULL,
    level smallint NOT NULL CHECK (level BETWEEN 1 AND 8),
    start timestamptz NOT NULL CHECK (extract(epoch FROM start)::bigint % (86400::bigint << level) = 0),
    campaign text NOT NULL,
    channel text NOT NULL CHECK (channel <> ''),
    total bigint NOT NULL CHECK (total >= 0),
    uniques integer NOT NULL CHECK (uniques >= 0),
    users bytea NOT NULL,
    version bigint NOT NULL DEFAULT nextval('rollup_versions'),
    PRIMARY KEY (event_name, level, start, campaign, channel)
);

ALTER TABLE rollup_campaign_hourly ALTER COLUMN users SET STORAGE EXTERNAL;
ALTER TABLE rollup_campaign_daily ALTER COLUMN users SET STORAGE EXTERNAL;
ALTER TABLE rollup_campaign_blocks ALTER COLUMN users SET STORAGE EXTERNAL;

-- Whether the campaign tables cover every row of events (all their levels included). False after
-- migrating a database that already held events: campaign questions are answered from raw SQL until
-- `event-metrics-service rollups rebuild` (everything) has rebuilt them and set it.
ALTER TABLE rollup_status ADD COLUMN campaigns_complete boolean NOT NULL DEFAULT false;
UPDATE rollup_status SET campaigns_complete = NOT EXISTS (SELECT 1 FROM events);

-- The campaign rollups are a setting (--campaign-rollups, off by default: they cost the replayer far
-- more than the main rollups, docs/rollups.md). A replayer running without them adds 1 here, with
-- campaigns_complete = false, in every transaction that inserts events. A full rebuild reads it before
-- its first day and sets campaigns_complete only if it has not moved: a batch committed meanwhile
-- without campaign rows (into a day the rebuild had already passed) keeps the campaign questions on
-- plain SQL.
ALTER TABLE rollup_status ADD COLUMN campaign_gaps bigint NOT NULL DEFAULT 0;
