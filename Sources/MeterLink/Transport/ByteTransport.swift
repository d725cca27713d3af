import Platform

/// A byte pipe to a meter (or, in the simulator, to a client): a TCP connection, a serial port, a pty master.
///
/// The meter session and the simulated meter speak HDLC over any of them. Every blocking call takes a
/// `Deadline` on the monotonic clock and throws a `LinkError` whose `kind` says what to do next:
/// `.timeout` (retry or give up), `.dropped` (reconnect), `.vanished` (reopen the device later).
///
/// Transports are not for concurrent use: one thread at a time owns one (they may be handed between threads).
public protocol ByteTransport: AnyObject {
    /// The peer in words for messages: `10.0.0.5:3333`, `[::1]:4059`, `/dev/ttyUSB0`.
    var peerDescription: String { get }
    /// What this transport has done so far.
    var counters: TransportCounters { get }
    /// False once closed (or after a failed `reopen`).
    var isOpen: Bool { get }

    /// Reads what is available into `buffer`, waiting until at least one byte arrives or `deadline` passes.
    /// Returns the number of bytes read (> 0 when `buffer` is not empty). Allocates nothing.
    /// Throws `.timeout` when nothing came in time, `.dropped` when the peer closed the link, `.vanished`
    /// when the device went away.
    func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Deadline) throws(LinkError) -> Int

    /// Writes all of `bytes`, waiting for room until `deadline`.
    func write(_ bytes: UnsafeRawBufferPointer, deadline: Deadline) throws(LinkError)

    /// Throws away whatever has arrived but was not read (stray bytes, a late reply, an echo).
    /// Returns how many bytes were discarded (for a serial port, at least those still in user space).
    @discardableResult
    func discardInput() -> Int

    /// Closes and opens the link again to the same peer (reconnect, reopen a re-plugged probe).
    /// Counts in `counters.reconnects`. Accepted connections cannot be reopened (`.unsupported`).
    func reopen(deadline: Deadline) throws(LinkError)

    /// Closes the link. Calling it twice is harmless; later reads and writes throw `.closed`.
    func close()
}

extension ByteTransport {
    /// Writes all of `bytes`, waiting for room until `deadline`.
    @inlinable
    public func write(_ bytes: [UInt8], deadline: Deadline) throws(LinkError) {
        // Array.withUnsafeBytes only rethrows untyped errors: carry the typed one out in a Result.
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(LinkError) in try write(raw, deadline: deadline) }
        }
        try result.get()
    }

    /// Reads what is available into `buffer[offset...]` (a caller-owned, pre-sized scratch array), waiting
    /// until at least one byte arrives or `deadline` passes. Returns the number of bytes read.
    @inlinable
    public func read(into buffer: inout [UInt8], from offset: Int = 0, deadline: Deadline) throws(LinkError) -> Int {
        precondition(offset >= 0 && offset <= buffer.count, "read offset outside the buffer")
        let result = buffer.withUnsafeMutableBytes { raw in
            Result { () throws(LinkError) -> Int in
                try read(into: UnsafeMutableRawBufferPointer(rebasing: raw[offset...]), deadline: deadline)
            }
        }
        return try result.get()
    }
}
