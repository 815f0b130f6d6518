/// # APISupport
///
/// What every HTTP route shares: the JSON error shape (``APIError``), JSON answers with one
/// Content-Type (`Response.json`), JSON string quoting and header reading.
///
/// May import Hummingbird only.
public enum APISupport {}
