import Testing
@testable import MeterLink

@Test func placeholderMeterLink() { #expect(Bool(true)) }
