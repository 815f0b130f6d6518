-- 0006: all-channels rows in the campaign tables (channel ''), as the main tables have had since 0002.
-- 0005 kept one row per campaign and channel only, so a campaign over every channel was the union of
-- its channel rows: a 30-day group_by=campaign unioned three bitmaps per campaign, bucket and level
-- (~9,000 on the bench seed). One more row per campaign and bucket makes every question without a
-- channel one row per piece, as for the main tables (docs/rollups.md, "The campaign dimension").
ALTER TABLE rollup_campaign_hourly DROP CONSTRAINT rollup_campaign_hourly_channel_check;
ALTER TABLE rollup_campaign_daily DROP CONSTRAINT rollup_campaign_daily_channel_check;
ALTER TABLE rollup_campaign_blocks DROP CONSTRAINT rollup_campaign_blocks_channel_check;

-- Campaign rows written before this migration have no all-channels twin: campaign questions go to
-- plain SQL (exact, slow) until `rollups rebuild --campaign-rollups` has rebuilt them. The gap counter
-- moves too, so a rebuild already running when this applies does not mark them complete.
UPDATE rollup_status SET campaigns_complete = false, campaign_gaps = campaign_gaps + 1
WHERE campaigns_complete AND EXISTS (SELECT 1 FROM events);
