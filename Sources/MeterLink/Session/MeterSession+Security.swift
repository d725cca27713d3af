import COSEM
import DLMSCrypto
import HDLC

// The secured association of MeterSession (DLMS security suite 0): the invocation counter's start and lease,
// the frame counter read through the public client, the ciphered AARQ/AARE, HLS-GMAC pass 3/4, and the
// protection of every request and the check of every reply once associated.

extension MeterSession {
    /// The public client's SAP: it reads the frame counter without security.
    static let publicClientSAP: UInt8 = 16

    // MARK: The counter

    /// Sets the first sending counter, once per process: above the persisted lease (every value up to it may
    /// have been used before a restart or a power cut) and above the meter's frame counter when one is
    /// configured (the meter refuses anything at or below it).
    func startCounter(_ security: MeterSecurity) throws(MeterError) {
        var start: UInt64 = 1
        if let leaseEnd = try counterLease?.loadLeaseEnd() { start = max(start, UInt64(leaseEnd) + 1) }
        if let obis = security.frameCounter {
            let expected = try readFrameCounter(obis)
            start = max(start, UInt64(expected) + 1)
        }
        guard start <= UInt64(UInt32.max) else {
            counters.securityFaults += 1
            throw MeterError(.security, "\(settings.endpoint): " + SecurityError.counterExhausted.description)
        }
        // Without a store nothing restarts from a lease: the counter may run to its end.
        sendCounter = InvocationCounter(next: UInt32(start), leasedUpTo: counterLease == nil ? .max : 0)
    }

    /// Persists a new lease when the next counter comes within half a lease of its end (the lease is written
    /// and synced before any counter in it is used).
    func ensureLease(_ counter: inout InvocationCounter) throws(MeterError) {
        guard let store = counterLease, let security = settings.security else { return }
        guard let next = counter.next else {
            counters.securityFaults += 1
            throw MeterError(.security, "\(settings.endpoint): " + SecurityError.counterExhausted.description)
        }
        let margin = UInt64(security.leaseBlock / 2)
        guard UInt64(next) + margin > UInt64(counter.leasedUpTo) else { return }
        let end = UInt32(min(UInt64(UInt32.max), UInt64(next) + UInt64(security.leaseBlock)))
        try store.storeLeaseEnd(end)
        counter.extendLease(to: end)
    }

    /// Reads the meter's frame counter (attribute 2 of a Data object) as the public client, without security,
    /// on a link of its own that is closed afterwards.
    func readFrameCounter(_ obis: ObisCode) throws(MeterError) -> UInt32 {
        try openLink(clientSAP: Self.publicClientSAP)
        var reader = ClientAssociation(settings: AssociationSettings(
            clientSAP: Self.publicClientSAP, authentication: .none, maxReceivePDUSize: settings.maxReceivePDUSize))
        defer { disconnectLink(timeout: 1000) }
        let hint = "the frame counter \(obis.fullDescription) could not be read through the public client (SAP 16) "
            + "of \(settings.endpoint)"
        let outcome: AssociationOutcome
        let aare = try transact(reader.associationRequest())
        do { outcome = try reader.handleAssociationResponse(aare) } catch {
            throw MeterError(.protocolError, "\(hint): the association response could not be read: \(error.description)")
        }
        if case let .rejected(_, diagnostic, _) = outcome {
            throw MeterError(.associationRejected, "\(hint): the meter refused the public client (\(diagnostic.name)); "
                + "unset DLMS_FRAME_COUNTER_OBIS if this meter has no public client")
        }
        var step: GetStep
        let request: [UInt8]
        do { request = try reader.getRequest(InterfaceClass.data.attribute(2, of: obis)) } catch {
            throw MeterError(.protocolError, "\(hint): \(error.description)")
        }
        var answer = try transact(request)
        while true {
            do { step = try reader.handleGetResponse(answer) } catch {
                throw MeterError(.protocolError, "\(hint): \(error.description)")
            }
            guard case let .send(next) = step else { break }
            answer = try transact(next)
        }
        var value: DataValue?
        if case let .result(.data(v)) = step { value = v }
        if case let .result(.error(access)) = step {
            throw MeterError(.objectUnavailable, "\(hint): \(access.name) (data-access-result \(access.rawValue)); "
                + "check DLMS_FRAME_COUNTER_OBIS (often 0-0:43.1.0.255 or 0-0:43.1.1.255)")
        }
        _ = try? transact(reader.releaseRequest(), timeout: 1000, retries: 0)
        guard let value, let counter = value.frameCounterValue else {
            throw MeterError(.protocolError, "\(hint): the value is not an unsigned integer of at most 32 bits; "
                + "check DLMS_FRAME_COUNTER_OBIS")
        }
        return counter
    }

    // MARK: The association

    /// The ciphered AARQ (LLS, HLS-GMAC or no authentication), the AARE deciphered, and HLS-GMAC pass 3/4.
    func associateSecured() throws(MeterError) {
        guard let security = settings.security, let counter = sendCounter else { return }
        association = ClientAssociation(settings: association.settings)
        if engine == nil {
            do { engine = try OpenSSLGCM() } catch { throw securityFault(COSEMError.security(error)) }
        }
        var context = CipheringContext(
            engine: engine!, keys: security.keys,
            policy: CipheringPolicy(security: security.security, preferGeneral: true,
                                    useDedicatedKey: security.keys.dedicated != nil),
            ownSystemTitle: security.clientSystemTitle, counter: counter, replayGuard: peerGuard)
        var challenge: [UInt8] = []
        let authentication: Authentication
        switch security.authentication {
        case .none: authentication = .none
        case .lls: authentication = .lowLevel(password: settings.password.bytes)
        case .hlsGMAC:
            challenge = try SecureRandom.bytes(16)
            authentication = .highLevelGMAC(challenge: challenge)
        }
        // Three counters before the next check (the AARQ, pass 3's GMAC and its APDU): the lease keeps at
        // least half a block (2 or more) ahead of the next counter.
        try ensureLease(&context.counter)
        // General protection proposed too: a meter that grants it gets general-glo/ded-ciphering (DB/DC), one
        // form for every service; one that does not keeps the service-specific tags. Both are accepted back.
        let initiate = InitiateRequest(
            proposedConformance: association.settings.proposedConformance.union(.generalProtection),
            clientMaxReceivePDUSize: settings.maxReceivePDUSize, dedicatedKey: security.keys.dedicated?.bytes)
        let aarq: AARQ
        do { aarq = try context.associationRequest(authentication: authentication, initiate: initiate) } catch {
            sendCounter = context.counter
            throw securityFault(error)
        }
        sendCounter = context.counter
        association.markRequested()
        let response = try transact(aarq.encode(), masking: settings.password.bytes)
        let aare: AARE
        do throws(COSEMError) {
            if response.first == 0xD8 {
                var r = ByteReader(response)
                throw COSEMError.exceptionResponse(try ExceptionResponse.decode(from: &r))
            }
            aare = try AARE.decode(response)
        } catch {
            counters.associationFailures += 1
            throw counterErrorOrFault(error, context: &context)
        }
        if aare.result != .accepted {
            counters.associationFailures += 1
            let hint: String
            switch (aare.diagnostic, security.authentication) {
            case (.authenticationFailure, .lls):
                hint = "the password is wrong for client SAP \(settings.clientSAP): check DLMS_PASSWORD"
            case (.authenticationFailure, _), (.authenticationRequired, .hlsGMAC):
                hint = "check DLMS_EK, DLMS_AK and DLMS_SYSTEM_TITLE (the meter must know this client title)"
            case (.authenticationRequired, _), (.mechanismNameRequired, _),
                 (.mechanismNameNotRecognised, _):
                hint = "the meter wants another authentication for client SAP \(settings.clientSAP): check DLMS_AUTH"
            case (.applicationContextNameNotSupported, _):
                hint = "the meter refuses ciphering for client SAP \(settings.clientSAP): check DLMS_SECURITY and DLMS_CLIENT_SAP"
            default:
                hint = "check DLMS_CLIENT_SAP, DLMS_SECURITY, DLMS_AUTH and the keys"
            }
            disconnectLink(timeout: 500)
            throw MeterError(.associationRejected,
                "association rejected by \(settings.endpoint) (\(aare.result.name), \(aare.diagnostic.name), diagnostic "
                + "\(aare.diagnostic.rawValue)): \(hint)")
        }
        let outcome: CipheredAssociationOutcome
        do { outcome = try context.handleAssociationResponse(aare) } catch {
            counters.associationFailures += 1
            peerGuard = context.replayGuard
            throw securityFault(error)
        }
        if security.authentication == .hlsGMAC {
            guard outcome.needsHLSPass3, let serverChallenge = outcome.serverChallenge else {
                counters.associationFailures += 1
                throw securityFault(COSEMError.security(.meterRefusedAuthentication(
                    "the AARE accepted HLS-GMAC without a challenge for pass 3")))
            }
            let pass3: [UInt8]
            do { pass3 = try context.hlsPass3(serverChallenge: serverChallenge, invoke: association.nextInvoke()) } catch {
                sendCounter = context.counter
                throw securityFault(error)
            }
            sendCounter = context.counter
            let reply = try transact(pass3)
            do throws(COSEMError) {
                if reply.first == 0xD8 {
                    var r = ByteReader(reply)
                    throw COSEMError.exceptionResponse(try ExceptionResponse.decode(from: &r))
                }
                try context.hlsPass4(reply, clientChallenge: challenge)
            } catch {
                counters.associationFailures += 1
                peerGuard = context.replayGuard
                throw counterErrorOrFault(error, context: &context)
            }
        }
        peerGuard = context.replayGuard
        guard let initiate = outcome.initiateResponse else {
            counters.associationFailures += 1
            throw MeterError(.protocolError, "\(settings.endpoint) accepted the association without an InitiateResponse")
        }
        let accepted = association.acceptDeciphered(initiate)
        if case let .accepted(granted, _) = accepted { self.granted = granted }
        cipher = context
        counters.associations += 1
        resetAssociationCaches()
    }

    // MARK: Every request, every reply

    /// Sends a request APDU, protected when the meter is secured, and returns the reply in clear. A reply
    /// whose protection fails is a counted fault, never data.
    func transactProtected(_ plain: [UInt8]) throws(MeterError) -> [UInt8] {
        guard cipher != nil else { return try transact(plain) }
        var counter = cipher!.counter
        try ensureLease(&counter)
        cipher!.counter = counter
        let wire: [UInt8]
        do { wire = try cipher!.protect(plain) } catch {
            sendCounter = cipher!.counter
            throw securityFault(error)
        }
        sendCounter = cipher!.counter
        let reply = try transact(wire)
        // A meter that cannot decipher (or refuses the counter) answers with an exception-response in clear;
        // it carries no data, so letting it through is safe, and the counter error is recovered from.
        if reply.first == 0xD8 {
            var r = ByteReader(reply)
            if let exception = try? ExceptionResponse.decode(from: &r) {
                var context = cipher!
                let error = counterErrorOrFault(COSEMError.exceptionResponse(exception), context: &context)
                cipher = context
                if error.kind == .security { throw error }
            }
            return reply
        }
        do {
            let plainReply = try cipher!.unprotected(reply)
            peerGuard = cipher!.replayGuard
            return plainReply
        } catch {
            throw securityFault(error)
        }
    }

    /// An invocation-counter-error exception: jump to the counter the meter expects and re-associate at once.
    /// Anything else: a security fault when it is one, a protocol error otherwise.
    func counterErrorOrFault(_ error: COSEMError, context: inout CipheringContext<OpenSSLGCM>) -> MeterError {
        if case let .exceptionResponse(e) = error, e.serviceError == 6 {
            counters.securityFaults += 1
            var message = "\(settings.endpoint) refused our invocation counter (exception-response "
                + "invocation-counter-error)"
            if let expected = e.invocationCounter {
                context.counter.advance(to: expected)
                var counter = sendCounter ?? context.counter
                counter.advance(to: expected)
                sendCounter = counter
                message += ": it expects \(expected); the counter jumped ahead and the association is opened again"
            } else {
                message += " without naming the counter it expects: set DLMS_FRAME_COUNTER_OBIS so that it is read"
            }
            var meterError = MeterError(.security, message)
            meterError.reassociateAtOnce = e.invocationCounter != nil
            return meterError
        }
        if case let .exceptionResponse(e) = error, e.serviceError == 5 {
            counters.securityFaults += 1
            return MeterError(.security, "\(settings.endpoint) could not decipher our request (exception-response "
                + "deciphering-error): check DLMS_EK, DLMS_AK, DLMS_SECURITY and DLMS_SYSTEM_TITLE against the meter's keys")
        }
        if case .exceptionResponse = error {
            return MeterError(.protocolError, "\(settings.endpoint): \(error.description)")
        }
        return securityFault(error)
    }

    /// Counts and words a failed check of a protected APDU (or another error of the secured path).
    func securityFault(_ error: COSEMError) -> MeterError {
        if case let .security(e) = error {
            counters.securityFaults += 1
            return MeterError(.security, "\(settings.endpoint): \(e.description)")
        }
        return MeterError(.protocolError, "\(settings.endpoint): the meter's protected answer could not be read: "
            + error.description)
    }
}

extension DataValue {
    /// A frame counter's value: an unsigned integer that fits 32 bits (meters use double-long-unsigned).
    var frameCounterValue: UInt32? {
        switch self {
        case let .doubleLongUnsigned(v): return v
        case let .longUnsigned(v): return UInt32(v)
        case let .unsigned(v): return UInt32(v)
        case let .long64Unsigned(v): return v <= UInt64(UInt32.max) ? UInt32(v) : nil
        case let .doubleLong(v): return v >= 0 ? UInt32(v) : nil
        default: return nil
        }
    }
}
