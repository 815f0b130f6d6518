import Hummingbird
import Testing

@testable import Operations

@Suite("API keys")
struct APIKeysTests {
    @Test func parsesCommaSeparatedAndDropsEmpties() {
        let keys = APIKeys(commaSeparated: " alpha , beta,,")
        #expect(keys.count == 2)
        #expect(keys.contains("alpha".utf8))
        #expect(keys.contains("beta".utf8))
        #expect(APIKeys(commaSeparated: "").isEmpty)
        #expect(APIKeys(commaSeparated: " , ").isEmpty)
    }

    @Test(arguments: ["", "alph", "alphaa", "Alpha", "beta ", "xalpha", "alphabeta"])
    func rejectsNearMisses(token: String) {
        #expect(!APIKeys(commaSeparated: "alpha,beta").contains(token.utf8))
    }

    @Test func descriptionNeverShowsAKey() {
        let keys = APIKeys(commaSeparated: "s3cret-1,s3cret-2")
        #expect(keys.description == "2 API key(s)")
        #expect(!"\(keys)".contains("s3cret"))
    }

    @Test(arguments: [
        ("Bearer abc", "abc"), ("bearer abc", "abc"), ("BEARER  abc ", "abc"), ("Basic abc", nil),
        ("Bearer", nil), ("Bearer ", nil), ("abc", nil),
    ] as [(String, String?)])
    func bearerToken(header: String, token: String?) {
        #expect(BearerAuthMiddleware<BasicRequestContext>.bearerToken(header) == token)
    }
}
