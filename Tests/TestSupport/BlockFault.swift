import Store

/// Installs a statement trigger on `table` (`rollup_blocks` unless told) that runs `strike` (a
/// PL/pgSQL statement: raise, terminate the backend, sleep) on the first `times` statements writing it. The replayer's merge
/// writes the day blocks last, so a strike lands between a batch's day rollups and its blocks, inside
/// its transaction. Counted by the sequence `block_fault_count`, which a rollback does not undo.
public func installBlockFault(
    strike: String, times: Int, table: String = "rollup_blocks", databaseURL: String
) throws {
    let connection = try PostgresConnection(url: databaseURL)
    defer { connection.close() }
    try connection.executeScript("""
        CREATE SEQUENCE block_fault_count;
        CREATE FUNCTION block_fault() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF nextval('block_fault_count') <= \(times) THEN \(strike); END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER block_fault BEFORE INSERT OR UPDATE ON \(table)
            FOR EACH STATEMENT EXECUTE FUNCTION block_fault();
        """)
}
