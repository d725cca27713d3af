import Testing
@testable import COSEM

@Test func placeholderCOSEM() { #expect(Bool(true)) }
