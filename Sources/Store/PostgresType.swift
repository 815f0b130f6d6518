/// Type OIDs (`pg_type.oid`) used by this module and its callers: parameter types, result column
/// types, and the array types (`pg_type.typarray`) of the elements ``PostgresBinaryArray`` sends.
public enum PostgresType {
    public static let bool: UInt32 = 16
    public static let bytea: UInt32 = 17
    public static let int8: UInt32 = 20
    public static let int2: UInt32 = 21
    public static let int4: UInt32 = 23
    public static let text: UInt32 = 25
    public static let float8: UInt32 = 701
    public static let timestamptz: UInt32 = 1184
    public static let uuid: UInt32 = 2950
    public static let jsonb: UInt32 = 3802

    public static let byteaArray: UInt32 = 1001
    public static let int4Array: UInt32 = 1007
    public static let textArray: UInt32 = 1009
    public static let int8Array: UInt32 = 1016
    public static let timestamptzArray: UInt32 = 1185
}
