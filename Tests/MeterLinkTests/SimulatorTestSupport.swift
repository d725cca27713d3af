import COSEM
import HDLC
import MeterSimulator
import Testing

/// A client built from the codebase's own client-side APIs (`HDLCLink` in the client role and
/// `ClientAssociation`) wired to a ``SimulatedMeter`` in memory: every byte goes through the meter core, and
/// the time is whatever the test says.
struct SimulatorHarness {
    var meter: SimulatedMeter
    var link: HDLCLink
    var association: ClientAssociation
    var now: Int64
    /// Every output of the meter, in order (for fault assertions).
    var outputs: [MeterOutput] = []

    /// 2026-11-19T04:00:00Z, a quarter-hour boundary.
    static let start: Int64 = 1_795_060_800_000

    init(configuration: SimulatorConfiguration = SimulatorConfiguration(), faults: SimulatorFaults = .none,
         clientSAP: UInt8 = 16, password: String? = nil, server: HDLCAddress? = nil,
         conformance: Conformance = .usualClientProposal, now: Int64 = SimulatorHarness.start) {
        meter = SimulatedMeter(configuration: configuration, faults: faults, tracing: true)
        let serverAddress = server
            ?? (try! HDLCAddress(logical: configuration.serverLogical, physical: configuration.serverPhysical))
        link = HDLCLink(.client(try! HDLCAddress.client(sap: clientSAP), server: serverAddress))
        let auth: Authentication = password.map { .lowLevel(password: Array($0.utf8)) } ?? .none
        association = ClientAssociation(settings: AssociationSettings(
            clientSAP: clientSAP, authentication: auth, proposedConformance: conformance))
        self.now = now
    }

    /// Sends the frames among `events` to the meter and feeds its answers back to the link, following RRs
    /// of segmented transfers, until nothing more is to be sent. Returns the link's other events.
    mutating func pump(_ events: [HDLCLink.Event]) -> [HDLCLink.Event] {
        var queue = events
        var result: [HDLCLink.Event] = []
        while !queue.isEmpty {
            let event = queue.removeFirst()
            guard case let .send(frame) = event else { result.append(event); continue }
            let out = meter.receive(frame, now: now)
            outputs.append(out)
            queue += link.receive(bytes: out.bytes)
        }
        return result
    }

    /// SNRM/UA; true when the link came up.
    mutating func connect() -> Bool {
        pump(link.connect()).contains { if case .connected = $0 { return true } else { return false } }
    }

    /// One APDU request and its answer APDU (nil when none came).
    mutating func transact(_ apdu: [UInt8]) -> [UInt8]? {
        guard let events = try? link.send(apdu: apdu) else { return nil }
        for event in pump(events) {
            if case let .apdu(answer) = event { return answer }
        }
        return nil
    }

    /// Link and association; the outcome of the AARQ.
    mutating func open() throws -> AssociationOutcome {
        #expect(connect(), "the meter did not answer the SNRM")
        let answer = try #require(transact(association.associationRequest()), "no AARE")
        return try association.handleAssociationResponse(answer)
    }

    /// A complete GET (with GET-Request-Next for blocks).
    mutating func get(_ attribute: AttributeDescriptor, access: SelectiveAccess? = nil) throws -> GetDataResult {
        var step = try association.handleGetResponse(try #require(transact(try association.getRequest(attribute, access: access))))
        while case let .send(next) = step {
            step = try association.handleGetResponse(try #require(transact(next)))
        }
        guard case let .result(result) = step else { Issue.record("expected one result, got \(step)"); return .error(.otherReason) }
        return result
    }

    /// A complete GET-With-List.
    mutating func get(list: [AttributeRequest]) throws -> [GetDataResult] {
        var step = try association.handleGetResponse(try #require(transact(try association.getRequest(list: list))))
        while case let .send(next) = step {
            step = try association.handleGetResponse(try #require(transact(next)))
        }
        guard case let .results(results) = step else { Issue.record("expected a list, got \(step)"); return [] }
        return results
    }

    /// The value of a GET, or a recorded failure.
    mutating func value(_ attribute: AttributeDescriptor, access: SelectiveAccess? = nil) throws -> DataValue {
        try get(attribute, access: access).get()
    }
}

/// A raw frame the way a client of `source` sends it to `destination`.
func frame(to destination: HDLCAddress, from source: HDLCAddress, _ control: Control, info: [UInt8] = []) -> [UInt8] {
    try! HDLCFrame.encode(destination: destination, source: source, control: control, info: info)
}

extension DataValue {
    var int: Int64? { integerValue ?? unsignedValue.map { Int64($0) } }
}
