/// A sans-I/O HDLC link (IEC 62056-46, normal response mode, modulo 8) for either end of the line.
///
/// The link owns no socket and no timer. The caller feeds it bytes from the wire and commands (connect,
/// send an APDU, disconnect, retransmit after a timeout); the link answers with ``Event``s: frames to
/// write (``Event/send(_:)``), a link that came up or went down, complete APDUs, rejections and protocol
/// errors. It handles SNRM/UA parameter negotiation, DISC/UA/DM, N(S)/N(R) sequence numbers, segmentation
/// of long APDUs on send (window 1: the next segment goes out when the peer's RR acknowledges the previous)
/// and reassembly on receive (answering each non-final segment with an RR), and the LLC header (only in
/// the first segment, stripped from delivered APDUs).
///
/// - Client role (the meter reader): ``connect()`` sends SNRM and yields ``Event/connected(_:)`` on UA;
///   ``send(apdu:)`` sends a request; the response arrives as ``Event/apdu(_:)``.
/// - Server role (the simulated meter): answers SNRM and DISC with UA by itself, delivers requests as
///   ``Event/apdu(_:)``, and ``send(apdu:)`` sends the response, segmented as needed.
public struct HDLCLink: Sendable {
    /// Which end of the link this is.
    public enum Role: Sendable, Hashable {
        /// Primary station: sends commands (SNRM, DISC, I with poll), the meter reader.
        case client
        /// Secondary station: answers, the meter.
        case server
    }

    /// Where the link is.
    public enum State: Sendable, Hashable {
        case disconnected
        /// Client: SNRM sent, waiting for UA.
        case connecting
        case connected
        /// Client: DISC sent, waiting for UA or DM.
        case disconnecting
    }

    /// Settings of one link end.
    public struct Configuration: Sendable, Hashable {
        public var role: Role
        /// This end's address: the client address (one byte) for a client, the server address for a server.
        public var localAddress: HDLCAddress
        /// The other end's address. A server may leave it `nil` to accept any client (learned from the SNRM).
        public var peerAddress: HDLCAddress?
        /// What this end proposes (client, in SNRM) or accepts at most (server, stated in UA).
        public var parameters: LinkParameters
        /// Client: send an empty SNRM when ``parameters`` equal the defaults (as the Microstar notes do).
        public var omitDefaultParameters: Bool
        /// The largest APDU reassembled from segments; a longer one is dropped with a protocol error.
        public var maxAPDUSize: Int
        /// Bytes of the receive buffer (a frame declaring more is discarded as oversize).
        public var receiveCapacity: Int

        public init(
            role: Role, localAddress: HDLCAddress, peerAddress: HDLCAddress?,
            parameters: LinkParameters = .defaults, omitDefaultParameters: Bool = true,
            maxAPDUSize: Int = 65_536, receiveCapacity: Int = Deframer.defaultCapacity
        ) {
            self.role = role
            self.localAddress = localAddress
            self.peerAddress = peerAddress
            self.parameters = parameters
            self.omitDefaultParameters = omitDefaultParameters
            self.maxAPDUSize = maxAPDUSize
            self.receiveCapacity = receiveCapacity
        }

        /// A meter reader talking to `server` from `client`.
        public static func client(
            _ client: HDLCAddress, server: HDLCAddress, parameters: LinkParameters = .defaults
        ) -> Configuration {
            Configuration(role: .client, localAddress: client, peerAddress: server, parameters: parameters)
        }

        /// A meter at `address` accepting any client.
        public static func server(_ address: HDLCAddress, parameters: LinkParameters = .defaults) -> Configuration {
            Configuration(role: .server, localAddress: address, peerAddress: nil, parameters: parameters)
        }
    }

    /// Why the peer refused.
    public enum Rejection: Sendable, Hashable, CustomStringConvertible {
        /// DM: the peer is not in a link (it was dropped, e.g. after the meter's idle timeout).
        case disconnectedMode
        /// FRMR with its information field (the rejected control byte and reason flags).
        case frameReject(info: [UInt8])

        public var description: String {
            switch self {
            case .disconnectedMode:
                return "the meter answered DM (disconnected mode): the link is down on its side, "
                    + "e.g. after its idle timeout; reconnect (DISC then SNRM)"
            case let .frameReject(info):
                return "the meter rejected a frame (FRMR \(hexString(info))): it did not accept our frame's "
                    + "control field or length; check the max info size and reconnect"
            }
        }
    }

    /// Something the link did not accept. The offending frame is dropped; the link stays usable unless
    /// said otherwise.
    public enum LinkError: Error, Sendable, Hashable, CustomStringConvertible {
        /// ``send(apdu:)`` or ``disconnect()`` while no link is up.
        case notConnected
        /// ``send(apdu:)`` while the previous APDU's segments are still going out.
        case busy
        /// An I-frame arrived with N(S) = `received` where `expected` was due.
        case outOfSequence(expected: UInt8, received: UInt8)
        /// An RR/RNR acknowledged N(R) = `received`; only `expected` (or a request to resend) fits.
        case unexpectedAcknowledgement(expected: UInt8, received: UInt8)
        /// A frame that makes no sense in the current state (e.g. UA without SNRM).
        case unexpectedFrame(Control, State)
        /// A frame for another station, or from a station other than the peer.
        case wrongAddress(destination: HDLCAddress, source: HDLCAddress)
        /// A segmented APDU grew beyond ``Configuration/maxAPDUSize``.
        case apduTooLarge(limit: Int)
        /// The peer is busy (RNR); retry later.
        case peerBusy
        /// The SNRM/UA parameters could not be read.
        case badParameters(FrameError)
        /// A frame failed validation.
        case badFrame(FrameError)

        public var description: String {
            switch self {
            case .notConnected:
                return "the HDLC link is not connected: connect (SNRM) first"
            case .busy:
                return "the previous APDU is still being sent in segments: wait for it before sending another"
            case let .outOfSequence(expected, received):
                return "I-frame out of sequence: expected N(S)=\(expected), got \(received); "
                    + "a frame was lost or repeated: the request will be retried or the link reset"
            case let .unexpectedAcknowledgement(expected, received):
                return "acknowledgement out of sequence: expected N(R)=\(expected), got \(received); "
                    + "the peer lost track of the sequence: reconnect"
            case let .unexpectedFrame(control, state):
                return "unexpected \(control.description) while \(state.name); ignored"
            case let .wrongAddress(destination, source):
                return "frame from \(source.description) to \(destination.description) is not for this link; "
                    + "check the client SAP, logical and physical address settings"
            case let .apduTooLarge(limit):
                return "segmented APDU exceeds \(limit) bytes; dropped: raise the APDU size limit or read less at once"
            case .peerBusy:
                return "the peer is busy (RNR); retry after a pause"
            case let .badParameters(error):
                return "HDLC parameters not understood: \(error.description)"
            case let .badFrame(error):
                return error.description
            }
        }
    }

    /// What the caller has to do or know after each call.
    public enum Event: Sendable, Hashable {
        /// Write these bytes (one complete frame) to the line.
        case send([UInt8])
        /// The link is up with these negotiated parameters (this end's view: transmit = what it sends).
        case connected(LinkParameters)
        /// The link is down (UA to our DISC, the peer's DISC, or DM/FRMR).
        case disconnected
        /// A complete APDU from the peer, reassembled and without the LLC header.
        case apdu([UInt8])
        /// The peer refused (DM or FRMR).
        case rejected(Rejection)
        /// A frame was dropped or a command refused; see ``LinkError``.
        case protocolError(LinkError)
    }

    /// The settings this link was created with (the server's ``Configuration/peerAddress`` is filled in by
    /// the first SNRM).
    public private(set) var configuration: Configuration
    /// Where the link is.
    public private(set) var state: State = .disconnected
    /// The negotiated parameters (this end's view); the configured ones until a link is up.
    public private(set) var parameters: LinkParameters
    /// V(S): the N(S) of the next I-frame this end sends.
    public private(set) var sendSequence: UInt8 = 0
    /// V(R): the N(S) expected in the next I-frame from the peer.
    public private(set) var receiveSequence: UInt8 = 0

    var deframer: Deframer
    /// A server created without a peer address accepts an SNRM from any client.
    let acceptsAnyClient: Bool
    /// The last frame sent, for ``retransmit()``.
    var lastSent: [UInt8]? = nil
    /// LLC header plus APDU being sent, and how much of it went out.
    var outgoing: [UInt8] = []
    var outgoingOffset = 0
    /// Info fields of the segments received so far.
    var incoming: [UInt8] = []
    var incomingStarted = false
    var incomingOverflow = false

    public init(_ configuration: Configuration) {
        self.configuration = configuration
        self.parameters = configuration.parameters
        self.deframer = Deframer(capacity: configuration.receiveCapacity)
        self.acceptsAnyClient = configuration.role == .server && configuration.peerAddress == nil
    }

    /// Discards counted by the receive deframer (garbage, bad checksums, truncated frames, ...).
    public var deframerCounters: DeframerCounters { deframer.counters }

    /// True while an APDU's segments are still going out.
    public var isSending: Bool { outgoingOffset < outgoing.count }

    // MARK: Commands

    /// Client: opens the link (SNRM with the proposed parameters). Resets sequence numbers and buffers.
    /// To clear a stale link first, call ``disconnect()`` and connect after its UA or DM.
    public mutating func connect() -> [Event] {
        resetTransfer()
        deframer.reset()
        state = .connecting
        let info = configuration.parameters.encode(omittingDefaults: configuration.omitDefaultParameters)
        return [emit(.setNormalResponseMode(poll: true), info: info)]
    }

    /// Client: closes the link (DISC). Allowed in any state, since a stale link on the meter's side is
    /// cleared this way before an SNRM.
    public mutating func disconnect() -> [Event] {
        resetTransfer()
        state = .disconnecting
        return [emit(.disconnect(poll: true), info: [])]
    }

    /// Sends an APDU (request for a client, response for a server), with the LLC header, in as many
    /// segments as the negotiated max info field requires. The first goes out now; each next one when
    /// the peer's RR acknowledges the previous.
    public mutating func send(apdu: [UInt8]) throws(LinkError) -> [Event] {
        guard state == .connected else { throw .notConnected }
        guard !isSending else { throw .busy }
        let llc: LLCHeader = configuration.role == .client ? .request : .response
        outgoing = llc.bytes + apdu
        outgoingOffset = 0
        return [nextSegment()]
    }

    /// Resends the last frame (call it when the answer does not come in time; the caller owns timers).
    /// Nothing when nothing was sent.
    public func retransmit() -> [Event] {
        guard let lastSent else { return [] }
        return [.send(lastSent)]
    }

    /// Gives up a frame that stopped arriving (inter-frame timeout); see ``Deframer/abandonPartialFrame()``.
    public mutating func abandonPartialFrame() {
        deframer.abandonPartialFrame()
    }

    // MARK: Input

    /// Feeds bytes from the line; complete frames are acted on in order.
    public mutating func receive(bytes: UnsafeRawBufferPointer) -> [Event] {
        var events: [Event] = []
        var offset = 0
        while true {
            let n = deframer.append(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            offset += n
            var delivered = false
            // Each frame is copied out of the deframer so that handling it may touch the rest of the link.
            while let (frame, copy) = deframer.nextFrame({ (f: HDLCFrame, b: UnsafeRawBufferPointer) in
                (f, [UInt8](b))
            }) {
                delivered = true
                events += copy.withUnsafeBytes { handle(frame, $0) }
            }
            if offset == bytes.count { return events }
            if n == 0 && !delivered { deframer.abandonPartialFrame() }
        }
    }

    /// Feeds bytes from the line; complete frames are acted on in order.
    public mutating func receive(bytes: [UInt8]) -> [Event] {
        bytes.withUnsafeBytes { receive(bytes: $0) }
    }

    /// Acts on one complete frame (flags included) that the caller delimited itself.
    public mutating func receive(frame bytes: [UInt8]) -> [Event] {
        bytes.withUnsafeBytes { raw -> [Event] in
            do throws(FrameError) {
                let frame = try HDLCFrame.parse(raw)
                return handle(frame, raw)
            } catch {
                return [.protocolError(.badFrame(error))]
            }
        }
    }

    // MARK: Frame handling

    mutating func handle(_ frame: HDLCFrame, _ bytes: UnsafeRawBufferPointer) -> [Event] {
        let info = UnsafeRawBufferPointer(rebasing: bytes[frame.infoRange])
        // A server configured for any client takes the client of each SNRM, and answers any client while
        // no link is up (with DM, so that it reconnects).
        var isSNRM = false
        if case .setNormalResponseMode = frame.control { isSNRM = true }
        let anyClient = acceptsAnyClient && (isSNRM || state != .connected)
        guard frame.destination.isSameStation(as: configuration.localAddress),
            anyClient || (configuration.peerAddress.map { frame.source.isSameStation(as: $0) } ?? false)
        else {
            return [.protocolError(.wrongAddress(destination: frame.destination, source: frame.source))]
        }
        if anyClient { configuration.peerAddress = frame.source }
        switch configuration.role {
        case .client: return handleAsClient(frame, info)
        case .server: return handleAsServer(frame, info)
        }
    }

    mutating func handleAsClient(_ frame: HDLCFrame, _ info: UnsafeRawBufferPointer) -> [Event] {
        switch (frame.control, state) {
        case (.unnumberedAcknowledge, .connecting):
            let peer: LinkParameters
            do throws(FrameError) { peer = try LinkParameters.decode(info) } catch {
                return [.protocolError(.badParameters(error))]
            }
            parameters = configuration.parameters.negotiated(withPeer: peer)
            state = .connected
            lastSent = nil
            return [.connected(parameters)]
        case (.unnumberedAcknowledge, .disconnecting), (.disconnectedMode, .disconnecting):
            state = .disconnected
            lastSent = nil
            return [.disconnected]
        case (.disconnectedMode, .disconnected):
            return []
        case (.disconnectedMode, _):
            return dropLink(.rejected(.disconnectedMode))
        case (.frameReject, _):
            return dropLink(.rejected(.frameReject(info: [UInt8](info))))
        case (.information, .connected), (.unnumberedInformation, .connected),
             (.receiveReady, .connected), (.receiveNotReady, .connected):
            return handleTransfer(frame, info)
        default:
            return [.protocolError(.unexpectedFrame(frame.control, state))]
        }
    }

    mutating func handleAsServer(_ frame: HDLCFrame, _ info: UnsafeRawBufferPointer) -> [Event] {
        switch frame.control {
        case .setNormalResponseMode:
            let peer: LinkParameters
            do throws(FrameError) { peer = try LinkParameters.decode(info) } catch {
                // Refuse with FRMR rather than guess: the client will see why in its log.
                return [.protocolError(.badParameters(error)), emit(.frameReject(final: true), info: [])]
            }
            parameters = configuration.parameters.negotiated(withPeer: peer)
            resetTransfer()
            state = .connected
            return [emit(.unnumberedAcknowledge(final: true), info: parameters.encode()), .connected(parameters)]
        case .disconnect:
            guard state == .connected else { return [emit(.disconnectedMode(final: true), info: [])] }
            resetTransfer()
            state = .disconnected
            return [emit(.unnumberedAcknowledge(final: true), info: []), .disconnected]
        case .information, .unnumberedInformation, .receiveReady, .receiveNotReady:
            guard state == .connected else { return [emit(.disconnectedMode(final: true), info: [])] }
            return handleTransfer(frame, info)
        default:
            return [.protocolError(.unexpectedFrame(frame.control, state))]
        }
    }

    /// I, UI, RR and RNR on an established link, the same for both roles.
    mutating func handleTransfer(_ frame: HDLCFrame, _ info: UnsafeRawBufferPointer) -> [Event] {
        switch frame.control {
        case let .information(ns, _, poll):
            guard ns == receiveSequence else {
                if ns == (receiveSequence &- 1) & 7, let lastSent {
                    // The peer repeated its last frame: our answer was lost. Answer again.
                    return [.send(lastSent)]
                }
                return [.protocolError(.outOfSequence(expected: receiveSequence, received: ns))]
            }
            receiveSequence = (receiveSequence &+ 1) & 7
            return accept(info, more: frame.segmented, poll: poll)
        case let .unnumberedInformation(poll):
            return accept(info, more: frame.segmented, poll: poll)
        case let .receiveReady(nr, _):
            if nr == sendSequence {
                if isSending { return [nextSegment()] }
                // A server polled with nothing to send answers RR; a client has nothing to say.
                return configuration.role == .server ? [emit(.receiveReady(receive: receiveSequence, poll: true), info: [])] : []
            }
            if nr == (sendSequence &- 1) & 7, let lastSent {
                // The peer did not get our last frame: send it again.
                return [.send(lastSent)]
            }
            return [.protocolError(.unexpectedAcknowledgement(expected: sendSequence, received: nr))]
        case .receiveNotReady:
            return [.protocolError(.peerBusy)]
        default:
            return [.protocolError(.unexpectedFrame(frame.control, state))]
        }
    }

    /// Adds one received info field to the APDU being reassembled. A non-final segment is acknowledged
    /// with RR when it carries the poll/final bit (always, with window 1); a peer using a larger window
    /// sends several segments and sets the bit on the last one it sends before waiting.
    mutating func accept(_ info: UnsafeRawBufferPointer, more: Bool, poll: Bool) -> [Event] {
        var body = info
        if !incomingStarted {
            incomingStarted = true
            incoming.removeAll(keepingCapacity: true)
            incomingOverflow = false
            if LLCHeader.detect(body) != nil { body = UnsafeRawBufferPointer(rebasing: body[LLCHeader.count...]) }
        }
        if incoming.count + body.count > configuration.maxAPDUSize {
            incomingOverflow = true
        } else if !incomingOverflow {
            incoming.append(contentsOf: body)
        }
        if more {
            return poll ? [emit(.receiveReady(receive: receiveSequence, poll: true), info: [])] : []
        }
        incomingStarted = false
        if incomingOverflow {
            incoming.removeAll(keepingCapacity: true)
            return [.protocolError(.apduTooLarge(limit: configuration.maxAPDUSize))]
        }
        let apdu = incoming
        incoming.removeAll(keepingCapacity: true)
        return [.apdu(apdu)]
    }

    /// The next segment of ``outgoing`` as an I-frame.
    mutating func nextSegment() -> Event {
        // Never more than a frame can carry, whatever was configured and agreed.
        let destination = configuration.peerAddress ?? configuration.localAddress
        let largest = HDLCFrame.maximumInfoCount(destination: destination, source: configuration.localAddress)
        let size = max(1, min(parameters.maxInfoTransmit, largest))
        let end = min(outgoing.count, outgoingOffset + size)
        let chunk = Array(outgoing[outgoingOffset..<end])
        outgoingOffset = end
        let more = end < outgoing.count
        let event = emit(.information(send: sendSequence, receive: receiveSequence, poll: true),
                         info: chunk, segmented: more)
        sendSequence = (sendSequence &+ 1) & 7
        if !more {
            outgoing.removeAll(keepingCapacity: true)
            outgoingOffset = 0
        }
        return event
    }

    /// Encodes a frame to the peer and remembers it for ``retransmit()``.
    mutating func emit(_ control: Control, info: [UInt8], segmented: Bool = false) -> Event {
        let destination = configuration.peerAddress ?? configuration.localAddress
        // Addresses are validated at construction and `info` is bounded by the max info size (at most 2030
        // bytes by negotiation), so encoding cannot fail; an empty frame is the safe fallback.
        let bytes = (try? HDLCFrame.encode(
            destination: destination, source: configuration.localAddress, control: control,
            segmented: segmented, info: info)) ?? []
        lastSent = bytes
        return .send(bytes)
    }

    mutating func dropLink(_ event: Event) -> [Event] {
        resetTransfer()
        state = .disconnected
        lastSent = nil
        return [event, .disconnected]
    }

    mutating func resetTransfer() {
        sendSequence = 0
        receiveSequence = 0
        outgoing.removeAll(keepingCapacity: true)
        outgoingOffset = 0
        incoming.removeAll(keepingCapacity: true)
        incomingStarted = false
        incomingOverflow = false
    }
}

extension HDLCLink.State {
    var name: String {
        switch self {
        case .disconnected: return "disconnected"
        case .connecting: return "connecting"
        case .connected: return "connected"
        case .disconnecting: return "disconnecting"
        }
    }
}
