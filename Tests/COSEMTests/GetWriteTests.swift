import COSEM
import Testing

/// `GetRequest.write(into:)` (the in-place encoder) writes exactly what `encode()` returns.
@Suite struct GetRequestWriteTests {
    static let requests: [GetRequest] = [
        .normal(invoke: InvokeIdAndPriority(invokeId: 1),
                attribute: AttributeDescriptor(classId: 3, obis: ObisCode(1, 1, 1, 8, 0), attribute: 2), access: nil),
        .normal(invoke: InvokeIdAndPriority(invokeId: 7, highPriority: false),
                attribute: AttributeDescriptor(classId: 0xABCD, obis: ObisCode(0, 0, 96, 1, 0, 7), attribute: -1),
                access: nil),
        .next(invoke: InvokeIdAndPriority(invokeId: 2), block: 0x0102_0304),
        .normal(invoke: InvokeIdAndPriority(invokeId: 1),
                attribute: AttributeDescriptor(classId: 7, obis: ObisCode(1, 0, 99, 1, 0), attribute: 2),
                access: .byEntry(fromEntry: 1, toEntry: 10, fromValue: 1, toValue: 0)),
        .withList(invoke: InvokeIdAndPriority(invokeId: 3), attributes: [
            AttributeRequest(AttributeDescriptor(classId: 3, obis: ObisCode(1, 1, 32, 7, 0), attribute: 2)),
            AttributeRequest(AttributeDescriptor(classId: 3, obis: ObisCode(1, 1, 31, 7, 0), attribute: 2)),
        ]),
    ]

    @Test(arguments: requests)
    func writeMatchesEncode(request: GetRequest) {
        let expected = request.encode()
        var buffer = [UInt8](repeating: 0xEE, count: expected.count + 4)
        let n = buffer.withUnsafeMutableBytes { request.write(into: $0) }
        #expect(n == expected.count)
        #expect(Array(buffer.prefix(expected.count)) == expected)
        #expect(buffer.suffix(4).allSatisfy { $0 == 0xEE }, "nothing written past the encoding")
    }

    @Test(arguments: requests)
    func writeRefusesAShortBufferAndWritesNothing(request: GetRequest) {
        let count = request.encode().count
        var buffer = [UInt8](repeating: 0xEE, count: count - 1)
        let n = buffer.withUnsafeMutableBytes { request.write(into: $0) }
        #expect(n == nil)
        #expect(buffer.allSatisfy { $0 == 0xEE })
    }
}
