import APISupport
import Events

/// The body of a bulk answer: `{"accepted": n, "rejected": m, "errors": [{"index", "field", "code", "message"}]}`.
struct BulkSummary {
    var accepted: Int
    var errors: [BulkEventError]

    func json() -> String {
        var out = #"{"accepted":\#(accepted),"rejected":\#(errors.count),"errors":["#
        for (i, error) in errors.enumerated() {
            if i > 0 { out += "," }
            out += #"{"index":\#(error.index),"field":"# + JSONString.quote(error.field)
            out += #","code":"# + JSONString.quote(error.code.description)
            out += #","message":"# + JSONString.quote(error.message) + "}"
        }
        return out + "]}"
    }
}
