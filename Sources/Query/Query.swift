/// # Query
///
/// Serves `GET /metrics`: total events and exact unique users for one event name over a half-open
/// time window, optionally for one channel, grouped by channel, hour, day, ISO week, month (in a `tz`
/// zone) or not at all; and `GET /event-names`, the event catalogue of a window (``EventNameCatalog``).
///
/// The work is split so each part can change alone:
/// - ``MetricsRequest`` parses and validates the query parameters (400s name the field);
/// - ``MetricsComputation`` answers it, by default from the hourly and daily rollups: a
///   ``MetricsWindowSplit`` takes whole days from `rollup_daily`, whole hours from `rollup_hourly` and
///   partial hours from raw `events`, and the users are unioned as Roaring bitmaps in Swift; time
///   buckets outside UTC, weeks and months split each bucket that way (``LocalBuckets``,
///   ``LocalBucketQuery``);
/// - ``MetricsPlanner`` is the plain-SQL plan (one parameterised scan of `events`): the reference the
///   rollups must equal, the benchmark baseline, and the fallback while rollups are incomplete;
/// - ``MetricsService`` runs it on a ``Store/PostgresPool`` (off the event loop) and maps
///   PostgreSQL failures to 503/504;
/// - ``MetricsResponse`` writes the JSON body; ``addMetricsRoutes(to:service:)`` wires the route.
public enum Query {}
