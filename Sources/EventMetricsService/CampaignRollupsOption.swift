import ArgumentParser

/// `--campaign-rollups` (env `CAMPAIGN_ROLLUPS`), shared by `serve`, `replay` and `rollups rebuild`.
///
/// Off by default: with the bench's 100 campaigns the campaign tables cost the replayer several times
/// what the main rollups do, which breaks the replay target (docs/rollups.md, "The campaign
/// dimension"). Off, campaign questions are answered by plain SQL (exact, slow). To turn it on: start
/// every node with it, then run `rollups rebuild --campaign-rollups` once; /metrics uses the campaign
/// tables from the moment that rebuild completes, provided no node without it committed events
/// meanwhile (`rollup_status.campaign_gaps`).
struct CampaignRollupsOption: ParsableArguments {
    @Flag(
        name: .customLong("campaign-rollups"), inversion: .prefixedNo,
        help: "Keep the campaign rollups (campaign_id= and group_by=campaign from bitmaps); off: plain SQL answers them (env CAMPAIGN_ROLLUPS).")
    var enabled = Environment.bool("CAMPAIGN_ROLLUPS", default: false)
}
