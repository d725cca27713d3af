import COSEM
import HDLC

/// What went wrong talking to a meter: the meter link's one error type.
///
/// `kind` is for code (which counter, whether to reconnect); `description` is for the operator: what
/// happened and what to check, e.g. "association rejected by 10.0.0.5:3333: authentication failure
/// (diagnostic 13): the password is wrong for client SAP 1; check DLMS_PASSWORD".
public struct MeterError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// A setting is wrong before anything was sent (unknown measurement, bad address).
        case configuration
        /// The transport failed (connect refused, device vanished, ...); see `link`.
        case transport
        /// No answer at this HDLC address (SNRM unanswered with every address width tried).
        case noAnswer
        /// A request got no (valid) answer within the timeout, even after retransmissions.
        case timeout
        /// The link or association dropped (DM, DISC from the meter, peer closed the socket).
        case linkDropped
        /// The meter refused the association (wrong password, wrong client SAP).
        case associationRejected
        /// The meter answered, but the object could not be read (data-access-result).
        case objectUnavailable
        /// The meter answered with something this client cannot understand or that breaks the protocol.
        case protocolError
        /// The meter is considered down after MAX_CONSEC_ERRORS failures; retries continue slowly.
        case meterDown
        /// A protected APDU failed its check (tag, replayed counter, too weak), HLS-GMAC failed, or the
        /// invocation counter cannot go on: a fault of this meter, counted, never read as data.
        case security
    }

    public var kind: Kind
    public var message: String
    /// The transport error behind it, when there is one.
    public var link: LinkError?
    /// The data-access-result for `.objectUnavailable`.
    public var accessResult: DataAccessResult?

    /// Re-associate at once, within the same poll (the meter named the invocation counter it expects).
    public var reassociateAtOnce = false

    public init(_ kind: Kind, _ message: String, link: LinkError? = nil, accessResult: DataAccessResult? = nil) {
        self.kind = kind
        self.message = message
        self.link = link
        self.accessResult = accessResult
    }

    public var description: String { message }

    /// A transport failure, worded by the transport.
    static func transport(_ error: LinkError) -> MeterError {
        let kind: Kind = error.kind == .timeout ? .timeout : (error.kind == .dropped || error.kind == .vanished ? .linkDropped : .transport)
        return MeterError(kind, error.description, link: error)
    }

    /// Whether the association is still usable after this error (only an object-level refusal leaves it so).
    public var keepsAssociation: Bool { kind == .objectUnavailable }
}
