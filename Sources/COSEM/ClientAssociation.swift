// The client side of an application association, sans-I/O: it builds the APDUs to send and interprets the
// APDUs received; the caller moves the bytes (over HDLC) and owns the clock.

/// What the client asks for when it opens an association.
public struct AssociationSettings: Sendable, Equatable {
    /// The client SAP (1, 16, 32, ...), used in operator messages only (the address lives in HDLC).
    public var clientSAP: UInt8
    public var authentication: Authentication
    public var proposedConformance: Conformance
    /// The largest APDU this client accepts (the AARQ's client-max-receive-pdu-size).
    public var maxReceivePDUSize: UInt16
    /// Whether requests ask for high priority (`C1` rather than `41`).
    public var highPriority: Bool
    public var limits: DecodingLimits
    /// The largest long (block) transfer accepted.
    public var maxTransferSize: Int

    public init(clientSAP: UInt8 = 16, authentication: Authentication = .none,
                proposedConformance: Conformance = .usualClientProposal, maxReceivePDUSize: UInt16 = 1200,
                highPriority: Bool = true, limits: DecodingLimits = .default, maxTransferSize: Int = 1 << 20) {
        self.clientSAP = clientSAP
        self.authentication = authentication
        self.proposedConformance = proposedConformance
        self.maxReceivePDUSize = maxReceivePDUSize
        self.highPriority = highPriority
        self.limits = limits
        self.maxTransferSize = maxTransferSize
    }
}

/// The meter's answer to the AARQ.
public enum AssociationOutcome: Equatable, Sendable {
    /// Accepted: the services the meter granted and the largest APDU it accepts.
    case accepted(granted: Conformance, serverMaxReceivePDUSize: UInt16)
    /// Rejected; `error` describes it for the operator (e.g. "the password is wrong for client SAP 1").
    case rejected(result: AssociationResult, diagnostic: AssociateSourceDiagnostic, error: COSEMError)
}

/// The outcome of one received GET-Response.
public enum GetStep: Equatable, Sendable {
    /// A block arrived; send this GET-Request-Next and feed the answer back.
    case send([UInt8])
    /// A single-attribute GET completed (value or refusal).
    case result(GetDataResult)
    /// A GET-With-List completed: one result per requested attribute, in order.
    case results([GetDataResult])
}

/// A sans-I/O client association: AARQ/AARE, invoke ids, GET requests, block transfer, release.
///
/// ```
/// var assoc = ClientAssociation(settings: .init(clientSAP: 1, authentication: .lowLevel(password: pw)))
/// send(assoc.associationRequest())
/// switch try assoc.handleAssociationResponse(receive()) { case .accepted: ...; case let .rejected(_, _, error): log(error) }
/// var step = try assoc.handleGetResponse(roundTrip(try assoc.getRequest(InterfaceClass.register.attribute(2, of: obis))))
/// while case let .send(next) = step { step = try assoc.handleGetResponse(roundTrip(next)) }
/// ```
public struct ClientAssociation: Sendable {
    public enum State: Equatable, Sendable {
        case idle
        case requested
        case associated(granted: Conformance, serverMaxReceivePDUSize: UInt16)
        case rejected
        case releasing
        case released
    }

    enum Pending: Equatable, Sendable {
        case none
        case single(InvokeIdAndPriority)
        case list(InvokeIdAndPriority, count: Int)
        case set(InvokeIdAndPriority)
    }

    public let settings: AssociationSettings
    public private(set) var state: State = .idle
    var pending: Pending = .none
    var reassembler: BlockReassembler?
    var lastInvokeId: UInt8 = 0

    public init(settings: AssociationSettings) {
        self.settings = settings
    }

    // MARK: Association

    /// The AARQ to send; moves to `.requested`.
    public mutating func associationRequest() -> [UInt8] {
        state = .requested
        pending = .none
        reassembler = nil
        return AARQ(authentication: settings.authentication, proposedConformance: settings.proposedConformance,
                    maxReceivePDUSize: settings.maxReceivePDUSize).encode()
    }

    /// Checks the meter's answer to the AARQ. Malformed bytes throw; a well-formed rejection returns
    /// `.rejected` with an operator-facing error.
    public mutating func handleAssociationResponse(_ bytes: [UInt8]) throws(COSEMError) -> AssociationOutcome {
        if let first = bytes.first, first != 0x61 {
            var r = ByteReader(bytes)
            if first == 0xD8 { throw COSEMError.exceptionResponse(try ExceptionResponse.decode(from: &r)) }
            if first == 0x0E { throw COSEMError.confirmedServiceError(try ConfirmedServiceError.decode(from: &r)) }
            throw COSEMError.unexpectedAPDU(expected: "an AARE", found: first)
        }
        let aare = try AARE.decode(bytes)
        if aare.result != .accepted {
            state = .rejected
            var error = COSEMError.associationRejected(result: aare.result, diagnostic: aare.diagnostic,
                                                       clientSAP: settings.clientSAP)
            if case let .confirmedServiceError(e)? = aare.userInformation, aare.diagnostic.rawValue <= 1 {
                error = .confirmedServiceError(e)
            }
            return .rejected(result: aare.result, diagnostic: aare.diagnostic, error: error)
        }
        guard let initiate = aare.initiateResponse else {
            if case let .confirmedServiceError(e)? = aare.userInformation {
                state = .rejected
                return .rejected(result: aare.result, diagnostic: aare.diagnostic, error: .confirmedServiceError(e))
            }
            throw COSEMError.invalidValue(at: 0, what: "accepted AARE without an InitiateResponse")
        }
        // The outcome reports what the meter sent; `usableConformance` is what this client may use.
        let granted = initiate.negotiatedConformance
        state = .associated(granted: granted, serverMaxReceivePDUSize: initiate.serverMaxReceivePDUSize)
        return .accepted(granted: granted, serverMaxReceivePDUSize: initiate.serverMaxReceivePDUSize)
    }

    /// Opens the association from a ciphered AARE that `CipheringContext` deciphered (and, for HLS-GMAC, after
    /// pass 3/4 verified): the InitiateResponse travelled inside a glo-initiate-response, so
    /// `handleAssociationResponse` never saw it in clear.
    public mutating func acceptDeciphered(_ initiate: InitiateResponse) -> AssociationOutcome {
        pending = .none
        reassembler = nil
        state = .associated(granted: initiate.negotiatedConformance, serverMaxReceivePDUSize: initiate.serverMaxReceivePDUSize)
        return .accepted(granted: initiate.negotiatedConformance, serverMaxReceivePDUSize: initiate.serverMaxReceivePDUSize)
    }

    /// Marks the AARQ as sent without building it here (a ciphered AARQ is built by `CipheringContext`).
    public mutating func markRequested() {
        state = .requested
        pending = .none
        reassembler = nil
    }

    /// The conformance the meter granted; nil before an accepted AARE.
    public var grantedConformance: Conformance? {
        if case let .associated(granted, _) = state { return granted }
        return nil
    }

    /// The largest APDU the meter accepts (0 in the AARE means no limit, reported as 65535).
    public var serverMaxReceivePDUSize: Int? {
        if case let .associated(_, size) = state { return size == 0 ? 0xFFFF : Int(size) }
        return nil
    }

    /// The services this client may use: granted by the meter and proposed by the client (some meters grant
    /// bits that were never proposed; using them would be outside the negotiated association).
    public var usableConformance: Conformance? {
        grantedConformance.map { $0.intersection(settings.proposedConformance) }
    }

    /// True when GET-With-List (multiple references) is usable; otherwise read attributes one by one.
    public var supportsGetWithList: Bool { usableConformance?.contains(.multipleReferences) ?? false }
    /// True when selective access (profile reads by range or entry) is usable.
    public var supportsSelectiveAccess: Bool { usableConformance?.contains(.selectiveAccess) ?? false }
    /// True when block transfer with GET is usable.
    public var supportsBlockTransfer: Bool { usableConformance?.contains(.blockTransferWithGet) ?? false }

    /// How many plain attributes (no selective access) one GET-Request-With-List may carry so that the request
    /// fits the meter's max receive PDU (`C0 03 iid n` + 10 bytes each); 0 when with-list is not usable.
    public var maxAttributesPerList: Int {
        guard supportsGetWithList, let pdu = serverMaxReceivePDUSize else { return 0 }
        let headerBytes = pdu - 4 > 0x7F * 10 ? 6 : 4  // the count takes 81 xx / 82 xx xx beyond 127
        return Swift.max(0, (pdu - headerBytes) / 10)
    }

    // MARK: Invoke ids

    /// The next invoke id (1...15, then 0, then 1 again ...) with this association's priority, confirmed.
    public mutating func nextInvoke() -> InvokeIdAndPriority {
        lastInvokeId = (lastInvokeId + 1) & 0x0F
        return InvokeIdAndPriority(invokeId: lastInvokeId, highPriority: settings.highPriority, confirmed: true)
    }

    // MARK: GET

    /// A GET-Request-Normal for one attribute; the answer goes to `handleGetResponse`.
    public mutating func getRequest(_ attribute: AttributeDescriptor, access: SelectiveAccess? = nil)
        throws(COSEMError) -> [UInt8]
    {
        guard let granted = usableConformance else { throw COSEMError.notAssociated }
        if access != nil, !granted.contains(.selectiveAccess) { throw COSEMError.serviceNotGranted("selective access") }
        let invoke = nextInvoke()
        pending = .single(invoke)
        reassembler = nil
        return GetRequest.normal(invoke: invoke, attribute: attribute, access: access).encode()
    }

    /// A GET-Request-With-List; throws `.serviceNotGranted` when the meter did not grant multiple references
    /// (fall back to `getRequest` per attribute).
    public mutating func getRequest(list: [AttributeRequest]) throws(COSEMError) -> [UInt8] {
        guard let granted = usableConformance else { throw COSEMError.notAssociated }
        guard granted.contains(.multipleReferences) else {
            throw COSEMError.serviceNotGranted("GET-With-List (multiple references)")
        }
        if list.contains(where: { $0.access != nil }), !granted.contains(.selectiveAccess) {
            throw COSEMError.serviceNotGranted("selective access")
        }
        let invoke = nextInvoke()
        pending = .list(invoke, count: list.count)
        reassembler = nil
        return GetRequest.withList(invoke: invoke, attributes: list).encode()
    }

    /// Interprets a GET answer: a finished result, or the GET-Request-Next to send for the next block.
    /// Exception-responses, confirmed-service-errors, stale invoke ids and broken block sequences throw.
    public mutating func handleGetResponse(_ bytes: [UInt8]) throws(COSEMError) -> GetStep {
        let expected: InvokeIdAndPriority
        switch pending {
        case .none: throw COSEMError.unexpectedAPDU(expected: "no answer (no request pending)", found: bytes.first ?? 0)
        case .set: throw COSEMError.unexpectedAPDU(expected: "a SET-Response (a SET is pending)", found: bytes.first ?? 0)
        case let .single(i), let .list(i, _): expected = i
        }
        var r = try responseReader(bytes, tag: 0xC4, what: "a GET-Response")
        let response = try GetResponse.decode(from: &r, limits: settings.limits)
        try r.expectEnd()
        if response.invoke.invokeId != expected.invokeId {
            throw COSEMError.invokeIdMismatch(expected: expected.invokeId, received: response.invoke.invokeId)
        }
        switch response {
        case let .normal(_, result):
            guard case .single = pending else {
                throw COSEMError.unexpectedValueShape(expected: "GET-Response-With-List", found: "GET-Response-Normal")
            }
            pending = .none
            return .result(result)
        case let .withList(_, results):
            guard case let .list(_, count) = pending else {
                throw COSEMError.unexpectedValueShape(expected: "GET-Response-Normal", found: "GET-Response-With-List")
            }
            guard results.count == count else {
                throw COSEMError.unexpectedValueShape(expected: "\(count) results", found: "\(results.count) results")
            }
            pending = .none
            return .results(results)
        case let .withDatablock(_, block):
            var assembler = reassembler ?? BlockReassembler(invoke: expected, maxSize: settings.maxTransferSize)
            let step: BlockReassembler.Step
            do {
                step = try assembler.receive(block)
            } catch {
                pending = .none
                reassembler = nil
                throw error
            }
            switch step {
            case let .sendNext(request):
                reassembler = assembler
                return .send(request.encode())
            case let .complete(data):
                reassembler = nil
                let finished = pending
                pending = .none
                var dr = ByteReader(data)
                if case let .list(_, count) = finished {
                    let results = try GetDataResult.decodeList(from: &dr, limits: settings.limits)
                    try dr.expectEnd()
                    guard results.count == count else {
                        throw COSEMError.unexpectedValueShape(expected: "\(count) results", found: "\(results.count) results")
                    }
                    return .results(results)
                }
                let value = try DataValue.decode(from: &dr, limits: settings.limits)
                try dr.expectEnd()
                return .result(.data(value))
            }
        }
    }

    // MARK: SET

    /// A SET-Request-Normal writing `value` to one attribute (e.g. the clock's time); the answer goes to
    /// `handleSetResponse`. Throws `.serviceNotGranted` when the meter did not grant SET.
    public mutating func setRequest(_ attribute: AttributeDescriptor, value: DataValue) throws(COSEMError) -> [UInt8] {
        guard let granted = usableConformance else { throw COSEMError.notAssociated }
        guard granted.contains(.set) else { throw COSEMError.serviceNotGranted("SET") }
        let invoke = nextInvoke()
        pending = .set(invoke)
        reassembler = nil
        return SetRequest(invoke: invoke, attribute: attribute, value: value).encode()
    }

    /// A reader positioned after the tag of the awaited response (`tag`, e.g. C4 for GET); an exception-response
    /// or a confirmed-service-error instead ends the pending request and throws what the meter said.
    private mutating func responseReader(_ bytes: [UInt8], tag: UInt8, what: String) throws(COSEMError) -> ByteReader {
        guard let first = bytes.first else {
            throw COSEMError.truncated(at: 0, needed: 1, remaining: 0, what: what)
        }
        var r = ByteReader(bytes)
        switch first {
        case tag: return r
        case 0xD8:
            pending = .none
            throw COSEMError.exceptionResponse(try ExceptionResponse.decode(from: &r))
        case 0x0E:
            pending = .none
            throw COSEMError.confirmedServiceError(try ConfirmedServiceError.decode(from: &r))
        default:
            throw COSEMError.unexpectedAPDU(expected: what + " (" + hex(tag) + ")", found: first)
        }
    }

    /// Interprets the answer to a SET: the meter's data-access-result (`.success`, or why it refused).
    /// Exception-responses, confirmed-service-errors and stale invoke ids throw.
    public mutating func handleSetResponse(_ bytes: [UInt8]) throws(COSEMError) -> DataAccessResult {
        guard case let .set(expected) = pending else {
            throw COSEMError.unexpectedAPDU(expected: "no SET-Response (no SET pending)", found: bytes.first ?? 0)
        }
        var r = try responseReader(bytes, tag: 0xC5, what: "a SET-Response")
        let response = try SetResponse.decode(from: &r)
        try r.expectEnd()
        if response.invoke.invokeId != expected.invokeId {
            throw COSEMError.invokeIdMismatch(expected: expected.invokeId, received: response.invoke.invokeId)
        }
        pending = .none
        return response.result
    }

    // MARK: Release

    /// The RLRQ to send (`62 03 80 01 00`).
    public mutating func releaseRequest() -> [UInt8] {
        state = .releasing
        pending = .none
        reassembler = nil
        return RLRQ().encode()
    }

    /// Checks the RLRE; the association is closed afterwards whatever it says.
    public mutating func handleReleaseResponse(_ bytes: [UInt8]) throws(COSEMError) {
        state = .released
        _ = try RLRE.decode(bytes)
    }

    /// Forget the association (after a link loss): the next step is a new AARQ.
    public mutating func reset() {
        state = .idle
        pending = .none
        reassembler = nil
    }
}
