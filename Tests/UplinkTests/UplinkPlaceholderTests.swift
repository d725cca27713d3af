import Testing
@testable import Uplink

@Test func placeholderUplink() { #expect(Bool(true)) }
