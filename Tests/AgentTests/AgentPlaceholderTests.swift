import Testing
@testable import Agent

@Test func placeholderAgent() { #expect(Bool(true)) }
