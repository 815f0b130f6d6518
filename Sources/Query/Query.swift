/// # Query
///
/// Serves `GET /metrics`: total events and exact unique users for one event name over a half-open
/// time window, optionally for one channel, grouped by channel, hour, day or not at all.
///
/// The work is split so each part can change alone:
/// - ``MetricsRequest`` parses and validates the query parameters (400s name the field);
/// - ``MetricsPlanner`` decides what to ask PostgreSQL (a ``MetricsQueryPlan``): today one
///   parameterised scan of `events`; the rollups issue replaces it with bitmap unions plus raw edges;
/// - ``MetricsService`` runs the plan on a ``Store/PostgresPool`` (off the event loop) and maps
///   PostgreSQL failures to 503/504;
/// - ``MetricsResponse`` writes the JSON body; ``addMetricsRoutes(to:service:)`` wires the route.
public enum Query {}
