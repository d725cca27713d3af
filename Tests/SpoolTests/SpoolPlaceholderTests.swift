import Testing
@testable import Spool

@Test func placeholderSpool() { #expect(Bool(true)) }
