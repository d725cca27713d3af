/// The identifier libmosquitto gives a publish (the MQTT packet identifier for QoS 1/2). It repeats after
/// 65535 publishes: map it to the spool's sequence number only while the message is in flight.
public struct MessageID: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }
    public var description: String { "mid \(rawValue)" }
}

/// What `publish` did with a message.
public struct PublishReceipt: Hashable, Sendable {
    /// Which `.delivered`/`.publishFailed` event will settle it.
    public var id: MessageID
    /// True when the client was disconnected: libmosquitto keeps the message (QoS 1/2) in memory and sends it
    /// after the reconnect. It is NOT failed: publishing it again would duplicate it.
    public var queued: Bool
}

/// Something that happened on the connection, handed from libmosquitto's network thread to the consumer's
/// thread through `MQTTClient.events`.
public enum UplinkEvent: Sendable, Hashable {
    /// The broker accepted the connection (CONNACK 0).
    case connected
    /// The broker refused the connection (bad credentials, not authorised, ...). Retried with backoff.
    case connectionRefused(UplinkError)
    /// The connection ended: nil when we asked for it, else why. Reconnection follows unless stopping.
    case disconnected(UplinkError?)
    /// A connection attempt failed before MQTT started (DNS, TCP refused).
    case unreachable(UplinkError)
    /// The TLS handshake failed (certificate verify failed, unknown CA, no client certificate, ...).
    case tlsError(UplinkError)
    /// The broker acknowledged the message (PUBACK/PUBCOMP; written for QoS 0): it may leave the spool.
    case delivered(MessageID)
    /// The broker rejected the message (MQTT 5 reason code >= 0x80); it will not be retried by libmosquitto.
    case publishFailed(MessageID, UplinkError)
}

/// Counts since the client was made; monotonic, for the health topic.
public struct UplinkCounters: Sendable, Hashable {
    public var connects = 0
    public var disconnects = 0
    public var connectFailures = 0
    public var refusals = 0
    public var tlsErrors = 0
    /// Messages handed to libmosquitto (including queued ones).
    public var published = 0
    /// Of those, handed over while disconnected.
    public var queued = 0
    public var delivered = 0
    /// Publishes refused by libmosquitto or rejected by the broker.
    public var failures = 0
}
