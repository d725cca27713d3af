import CLibc
import COSEM
import DLMSCrypto
import MeterLink
import Platform

// The simulated meter as a secured one (DLMS security suite 0): the ciphered AARQ/AARE, LLS or HLS-GMAC
// (pass 3 checked, pass 4 answered), every request deciphered and every reply protected, a frame-counter
// object the public client may read, and the faults a client must survive (wrong tag, replayed reply,
// stale counter, wrong f(CtoS)). Every IV a client used is recorded, so that a test can prove none repeats.

/// How the simulated meter is secured (`simulate --security ...`).
public struct SimulatorSecurity: Sendable {
    /// The protection required on every APDU of a secured client (and given to every reply).
    public var security: SecurityControl
    /// What a secured client must authenticate with.
    public var authentication: SecureAuthentication
    /// EK and AK (a dedicated key arrives in the client's AARQ).
    public var keys: SecurityKeys
    /// The meter's system title (responding-AP-title; the IV of what it sends).
    public var serverSystemTitle: SystemTitle
    /// Client SAPs that must cipher (others keep the public/LLS rules of the plain meter).
    public var securedClients: Set<UInt8>
    /// The frame-counter Data object: attribute 2 is the last counter accepted from a client.
    public var frameCounter: ObisCode
    /// Grant general protection when a client proposes it (then general-glo/ded-ciphering, DB/DC).
    public var grantsGeneralProtection = true
    /// State shared by every connection: counters both ways and the IV record.
    public let state: SecureMeterState

    public init(security: SecurityControl = .authenticatedEncrypted, authentication: SecureAuthentication = .hlsGMAC,
                keys: SecurityKeys, serverSystemTitle: SystemTitle = SystemTitle(rawValue: 0x4D4D_4D00_0000_0001),
                securedClients: Set<UInt8> = [1], frameCounter: ObisCode = ObisCode(0, 0, 43, 1, 0, 255),
                ivLogPath: String? = nil) {
        self.security = security
        self.authentication = authentication
        self.keys = keys
        self.serverSystemTitle = serverSystemTitle
        self.securedClients = securedClients
        self.frameCounter = frameCounter
        self.state = SecureMeterState(ivLogPath: ivLogPath)
    }
}

/// The meter's security state across connections (a real meter keeps its counters in non-volatile memory).
public final class SecureMeterState: @unchecked Sendable {
    struct Values {
        var lastClientCounter: UInt32?
        var nextServerCounter: UInt32 = 1
        var lastProtectedReply: [UInt8]?
        var seenIVs: Set<UInt64> = []
        var ivReuses = 0
        var ivCount = 0
    }

    private let values = Locked(Values())
    private let ivLogFD: Int32

    init(ivLogPath: String?) {
        if let ivLogPath {
            ivLogFD = clibc_open(ivLogPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        } else {
            ivLogFD = -1
        }
    }

    deinit { if ivLogFD >= 0 { close(ivLogFD) } }

    /// The last counter accepted from a client: attribute 2 of the frame-counter object (0 before any).
    public var lastClientCounter: UInt32? { values.withLock { $0.lastClientCounter } }
    /// IVs a client used more than once (must stay 0).
    public var ivReuses: Int { values.withLock { $0.ivReuses } }
    /// IVs recorded.
    public var ivCount: Int { values.withLock { $0.ivCount } }

    /// Records an IV a client used (title || counter), in memory and in the IV file (`TITLE COUNTER` a line).
    func record(title: SystemTitle, counter: UInt32) {
        values.withLock { v in
            // Titles differ in the high bytes: a title's serial part and the counter fit one key together.
            let key = title.rawValue &* 0x1_0000_0001 ^ UInt64(counter)
            if !v.seenIVs.insert(key).inserted { v.ivReuses += 1 }
            v.ivCount += 1
        }
        guard ivLogFD >= 0 else { return }
        let line = Array("\(title.description) \(counter)\n".utf8)
        _ = line.withUnsafeBytes { write(ivLogFD, $0.baseAddress, $0.count) }
    }

    func accepted(clientCounter: UInt32) {
        values.withLock { v in
            if v.lastClientCounter.map({ clientCounter > $0 }) ?? true { v.lastClientCounter = clientCounter }
        }
    }

    func takeServerCounter() -> UInt32 {
        values.withLock { v in
            defer { v.nextServerCounter &+= 1 }
            return v.nextServerCounter
        }
    }

    /// For the stale-counter fault: the counter of the previous reply, used again.
    func staleServerCounter() -> UInt32 {
        values.withLock { v in v.nextServerCounter > 1 ? v.nextServerCounter - 1 : 0 }
    }

    func swapLastReply(_ reply: [UInt8]) -> [UInt8]? {
        values.withLock { v in
            defer { v.lastProtectedReply = reply }
            return v.lastProtectedReply
        }
    }
}

/// The ciphering of one secured association at the meter. A class: its OpenSSL context is not copied with
/// the `SimulatedMeter` value that holds it (one connection, one thread).
final class SecureServerSession: @unchecked Sendable {
    var context: CipheringContext<OpenSSLGCM>
    /// The client's HLS challenge, for pass 4; nil once pass 3 passed (or without HLS).
    var clientChallenge: [UInt8]?
    /// The meter's challenge StoC, which pass 3 must answer.
    var serverChallenge: [UInt8]?
    /// The form and key of the last request, which the reply takes too.
    var replyForm = CipheringForm()

    init(context: CipheringContext<OpenSSLGCM>) { self.context = context }

    var awaitingPass3: Bool { serverChallenge != nil }
}

extension SimulatedMeter {
    /// The AARQ of a secured client: context LN with ciphering, its title, the ciphered InitiateRequest, then
    /// LLS or the HLS-GMAC challenge. Answers the AARE (ciphered InitiateResponse), or an exception-response
    /// for a stale counter (naming the one expected) or an undecipherable request.
    mutating func associateSecured(_ request: AARQ, clientSAP: UInt8, security: SimulatorSecurity,
                                   into out: inout MeterOutput) -> [UInt8] {
        func reject(_ diagnostic: AssociateSourceDiagnostic, _ why: String) -> [UInt8] {
            counters.associationsRejected += 1
            note(&out, "secured association from client SAP \(clientSAP) rejected: \(why)")
            return AARE(result: .rejectedPermanent, diagnostic: diagnostic, userInformation: nil,
                        applicationContext: .logicalNameWithCiphering).encode()
        }
        guard request.applicationContext == .logicalNameWithCiphering else {
            return reject(.applicationContextNameNotSupported, "client SAP \(clientSAP) must use ciphering")
        }
        guard let clientTitle = request.callingAPTitle, case let .ciphered(bytes) = request.userInformation else {
            return reject(.noReasonGiven, "no calling-AP-title or no ciphered InitiateRequest")
        }
        let engine: OpenSSLGCM
        do { engine = try OpenSSLGCM() } catch { return reject(.noReasonGiven, error.description) }
        let state = security.state
        var context = CipheringContext(
            engine: engine, keys: security.keys, policy: CipheringPolicy(security: security.security),
            ownSystemTitle: security.serverSystemTitle, peerSystemTitle: clientTitle,
            counter: InvocationCounter(next: 0), replayGuard: ReplayGuard(lastAccepted: state.lastClientCounter))
        let initiate: InitiateRequest
        switch decipher(bytes, &context, state: state, into: &out) {
        case let .failure(exception): return exception.bytes
        case let .success(plain):
            var r = ByteReader(plain)
            guard let decoded = try? InitiateRequest.decode(from: &r) else {
                return reject(.noReasonGiven, "the deciphered InitiateRequest does not decode")
            }
            initiate = decoded
        }
        if let key = initiate.dedicatedKey {
            guard let dedicated = SecurityKey(bytes: key) else { return reject(.noReasonGiven, "a dedicated key not of 16 bytes") }
            context.keys.dedicated = dedicated
            context.policy.useDedicatedKey = true
        }
        var mechanism: MechanismName? = nil
        var diagnostic = AssociateSourceDiagnostic.null
        var serverChallenge: [UInt8]? = nil
        var clientChallenge: [UInt8]? = nil
        switch security.authentication {
        case .none: break
        case .lls:
            mechanism = .lowLevel
            guard case let .lowLevel(password) = request.authentication else {
                return reject(.authenticationRequired, "no password (LLS required)")
            }
            guard password == configuration.password, !faults.rejectPassword else {
                counters.passwordRejections += 1
                return reject(.authenticationFailure, "wrong password (\(password.count) characters)")
            }
        case .hlsGMAC:
            mechanism = .highLevelGMAC
            guard case let .highLevelGMAC(challenge) = request.authentication else {
                return reject(.authenticationRequired, "no HLS-GMAC challenge (mechanism 5 required)")
            }
            clientChallenge = challenge
            serverChallenge = (try? SecureRandom.bytes(16)) ?? Array("P6wRJ21FP6wRJ21F".utf8)
            diagnostic = .authenticationRequired
        }
        // A secured meter grants general protection when asked (replies then take the request's form).
        let granted = initiate.proposedConformance.intersection(
            configuration.conformance.union(security.grantsGeneralProtection ? .generalProtection : []))
        let clientMax = initiate.clientMaxReceivePDUSize == 0 ? 0xFFFF : Int(initiate.clientMaxReceivePDUSize)
        let maxPDU = max(64, min(clientMax, Int(configuration.maxPDUSize)))
        let response = InitiateResponse(negotiatedConformance: granted, serverMaxReceivePDUSize: configuration.maxPDUSize)
        var plain: [UInt8] = []
        response.encode(into: &plain)
        context.counter = InvocationCounter(next: state.takeServerCounter())
        guard let ciphered = try? context.protect(plain, form: CipheringForm()) else {
            return reject(.noReasonGiven, "the InitiateResponse could not be ciphered")
        }
        let session = SecureServerSession(context: context)
        session.clientChallenge = clientChallenge
        session.serverChallenge = serverChallenge
        secure = session
        association = .associated(clientSAP: clientSAP, granted: granted, maxPDUSize: maxPDU)
        counters.associationsAccepted += 1
        note(&out, "secured association accepted for client SAP \(clientSAP) (title \(clientTitle), SC "
            + "\(security.security), \(security.authentication.rawValue)\(initiate.dedicatedKey != nil ? ", dedicated key" : ""))"
            + (serverChallenge != nil ? ": HLS pass 3 awaited" : ""))
        return AARE(result: .accepted, diagnostic: diagnostic, userInformation: .ciphered(ciphered), mechanism: mechanism,
                    applicationContext: .logicalNameWithCiphering, respondingAPTitle: security.serverSystemTitle,
                    respondingAuthenticationValue: serverChallenge).encode()
    }

    /// Deciphers a request, recording its IV; a stale counter or a bad tag gives the exception-response to send.
    mutating func decipher(_ bytes: [UInt8], _ context: inout CipheringContext<OpenSSLGCM>, state: SecureMeterState,
                           into out: inout MeterOutput) -> Result<[UInt8], ExceptionFailure> {
        if let apdu = try? CipheredAPDU.parse(bytes), let title = apdu.systemTitle ?? context.peerSystemTitle {
            state.record(title: title, counter: apdu.invocationCounter)
        }
        var copy = bytes
        do {
            let result = try context.unprotect(&copy)
            state.accepted(clientCounter: result.apdu.invocationCounter)
            secureForm(result.apdu)
            return .success(Array(copy[result.plaintext]))
        } catch {
            counters.exceptionResponses += 1
            if case let .security(.replayedCounter(received, last)) = error {
                note(&out, "stale invocation counter \(received) (last accepted \(last)): invocation-counter-error")
                return .failure(ExceptionFailure(ExceptionResponse(stateError: 2, serviceError: 6,
                                                                   invocationCounter: last &+ 1).encoded))
            }
            note(&out, "cannot decipher the request: \(error.description): deciphering-error")
            return .failure(ExceptionFailure(ExceptionResponse(stateError: 2, serviceError: 5).encoded))
        }
    }

    /// Remembers the request's form so that the reply takes the same one (dlms-cosem reads only general).
    func secureForm(_ apdu: CipheredAPDU) {
        secure?.replyForm = CipheringForm(general: apdu.isGeneral, dedicated: apdu.isDedicated)
    }

    /// A ciphered request inside a secured association: HLS pass 3, or a service request, deciphered and
    /// answered through the plain path, the answer protected (with the reply faults applied).
    mutating func respondSecured(to apdu: [UInt8], clientSAP: UInt8, security: SimulatorSecurity, now: Int64,
                                 into out: inout MeterOutput) -> [UInt8]? {
        guard let session = secure, case .associated = association else {
            counters.exceptionResponses += 1
            note(&out, "ciphered APDU outside a secured association: exception-response service-not-allowed")
            return ExceptionResponse(stateError: 1, serviceError: 1).encoded
        }
        let plain: [UInt8]
        switch decipher(apdu, &session.context, state: security.state, into: &out) {
        case let .failure(exception): return exception.bytes
        case let .success(p): plain = p
        }
        if session.awaitingPass3 {
            return hlsPass3(plain, session: session, security: security, into: &out)
        }
        guard plain.first == 0xC0 || plain.first == 0xC1 else {  // GET, and SET (of the clock)
            counters.exceptionResponses += 1
            note(&out, "deciphered APDU \(hexString([plain.first ?? 0])) not supported: exception-response service-unknown")
            return ExceptionResponse(stateError: 2, serviceError: 2).encoded
        }
        guard let reply = respondPlain(to: plain, clientSAP: clientSAP, now: now, into: &out) else { return nil }
        return protectReply(reply, session: session, security: security, into: &out)
    }

    /// Pass 3: checks f(StoC) against the client's title, answers f(CtoS) (pass 4), or refuses.
    mutating func hlsPass3(_ plain: [UInt8], session: SecureServerSession, security: SimulatorSecurity,
                           into out: inout MeterOutput) -> [UInt8] {
        guard let action = try? ActionRequest.decode(plain), action.method == .replyToHLSAuthentication,
            case let .octetString(f)? = action.parameters, let stoc = session.serverChallenge,
            let clientTitle = session.context.peerSystemTitle
        else {
            association = .none
            secure = nil
            counters.associationsRejected += 1
            note(&out, "HLS pass 3 expected: association dropped")
            return ExceptionResponse(stateError: 1, serviceError: 1).encoded
        }
        // Pass 4 takes pass 3's tag form (a client that sent general-glo-ciphering, DB, may read only DB:
        // dlms-cosem does), always under the global key.
        let pass4Form = CipheringForm(general: session.replyForm.general)
        // The GMAC's counter is an IV under EK too: record it.
        if f.count == 17 {
            security.state.record(title: clientTitle, counter: UInt32(f[1]) << 24 | UInt32(f[2]) << 16
                                  | UInt32(f[3]) << 8 | UInt32(f[4]))
        }
        let verified = (try? HLSGMAC.verify(f, challenge: stoc, engine: session.context.engine,
                                            keys: session.context.keys, systemTitle: clientTitle)) != nil
        guard verified, let ctos = session.clientChallenge else {
            association = .none
            secure = nil
            counters.associationsRejected += 1
            note(&out, "HLS pass 3: f(StoC) does not verify: the client does not hold the keys")
            let refusal = ActionResponse(invoke: action.invoke, result: ActionResult(rawValue: 3), returnParameters: nil)
            return (try? session.context.protect(refusal.encode(), form: pass4Form)) ?? []
        }
        session.serverChallenge = nil
        let counter = security.state.takeServerCounter()
        guard var fctos = try? HLSGMAC.response(to: ctos, engine: session.context.engine, keys: session.context.keys,
                                                systemTitle: security.serverSystemTitle, invocationCounter: counter)
        else { return [] }
        if faults.wrongFCtoS {
            fctos[16] ^= 0x01
            note(&out, "fault: wrong f(CtoS) in HLS pass 4")
        }
        let response = ActionResponse(invoke: action.invoke, result: .success, returnParameters: .data(.octetString(fctos)))
        session.context.counter = InvocationCounter(next: security.state.takeServerCounter())
        note(&out, "HLS pass 3 verified: the client holds the keys; f(CtoS) sent")
        return (try? session.context.protect(response.encode(), form: pass4Form)) ?? []
    }

    /// Protects a reply in the request's form, with the reply faults.
    mutating func protectReply(_ reply: [UInt8], session: SecureServerSession, security: SimulatorSecurity,
                               into out: inout MeterOutput) -> [UInt8] {
        // An exception-response has no ciphered form: it carries no data and goes in clear.
        if reply.first == 0xD8 { return reply }
        let stale = faults.staleCounter
        session.context.counter = InvocationCounter(
            next: stale ? security.state.staleServerCounter() : security.state.takeServerCounter())
        if stale { note(&out, "fault: reply protected with a stale invocation counter") }
        var wire: [UInt8]
        do { wire = try session.context.protect(reply, form: session.replyForm) } catch {
            note(&out, "the reply could not be protected: \(error.description)")
            return ExceptionResponse(stateError: 2, serviceError: 3).encoded
        }
        if faults.wrongTag, security.security.isAuthenticated, let last = wire.indices.last {
            wire[last] ^= 0x01
            note(&out, "fault: the reply's authentication tag was altered")
        }
        let previous = security.state.swapLastReply(wire)
        if faults.replayReply, let previous {
            note(&out, "fault: an earlier protected reply sent again (replay)")
            return previous
        }
        return wire
    }
}

/// An exception-response to send instead of a deciphered request.
struct ExceptionFailure: Error {
    var bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
}
