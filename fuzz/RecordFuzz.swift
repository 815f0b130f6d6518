// libFuzzer entry for the WAL record codec of events (`scripts/fuzz --target record`), linked with the
// real `Events` target like `EventFuzz.swift`.
//
// `EventRecordCodec` promises that decoding is total: any bytes either decode to the event that
// encodes to exactly those bytes, or throw `EventRecordError`. This checks the promise both ways.
// `Tests/EventsTests/FuzzRegressionTests.swift` replays `fuzz/regressions/record/` through the same calls.

@testable import Events

@_cdecl("LLVMFuzzerTestOneInput")
public func recordFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    switch EventRecordCodec.decodeResult(bytes) {
    case .success(let event):
        let again = EventRecordCodec.encode(event)
        guard again.elementsEqual(bytes) else {
            fatalError("decoded record re-encodes to different bytes (\(size) in, \(again.count) out)")
        }
        require(EventRecordCodec.encodedSize(of: event) == size, "encodedSize disagrees with the record")
        var appended: [UInt8] = [0xAB]
        EventRecordCodec.encode(event, into: &appended)
        require(appended.dropFirst().elementsEqual(bytes), "encode(into:) disagrees with encode")
    case .failure(let error):
        require(error.offset >= 0 && error.offset <= size, "error offset \(error.offset) outside the record")
    }
    return 0
}

/// `precondition` that keeps its message in -O builds, so the fuzz log says which check failed.
func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError(message()) }
}
