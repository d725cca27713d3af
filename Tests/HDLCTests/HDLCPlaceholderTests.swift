import Testing
@testable import HDLC

@Test func placeholderHDLC() { #expect(Bool(true)) }
