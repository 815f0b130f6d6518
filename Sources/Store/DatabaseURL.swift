import Foundation

/// Where PostgreSQL is when nothing says otherwise: one home for the default that the service's
/// `--database-url`, bench and the tests share.
public enum DatabaseURL {
    /// The local cluster that `scripts/postgres` manages (port 54329).
    public static let local = "postgresql://events@127.0.0.1:54329/events"

    /// `DATABASE_URL` when set and not empty, else ``local``.
    public static var fromEnvironment: String {
        if let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty { return url }
        return local
    }
}
