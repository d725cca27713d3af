/// What a ``Deframer`` delivered and what it threw away, by kind. Every discarded byte is counted once
/// under the reason it was discarded; a health report can show these as they are.
public struct DeframerCounters: Hashable, Sendable, CustomStringConvertible {
    /// Valid frames delivered.
    public var frames = 0
    /// Bytes skipped while looking for an opening flag (line noise, a half frame at start-up, an echo).
    public var garbageBytes = 0
    /// Extra `7E` flags between frames (`7E 7E`): legal, counted to show a chatty line.
    public var repeatedFlags = 0
    /// Flags followed by something that is not a frame header (not type 3, length too small, bad address
    /// or control): the flag is dropped and the search goes on from the next byte.
    public var malformedHeaders = 0
    /// Frames whose header check sequence failed.
    public var hcsErrors = 0
    /// Frames whose frame check sequence failed.
    public var fcsErrors = 0
    /// Frames cut short: no closing flag where the length field says, or abandoned on a timeout.
    public var truncatedFrames = 0
    /// Frames whose declared length exceeds the deframer's capacity.
    public var oversizeFrames = 0

    public init() {}

    /// Frames thrown away, all reasons together (garbage bytes and repeated flags are not frames).
    public var discardedFrames: Int {
        malformedHeaders &+ hcsErrors &+ fcsErrors &+ truncatedFrames &+ oversizeFrames
    }

    public var description: String {
        "frames \(frames), garbage bytes \(garbageBytes), repeated flags \(repeatedFlags), "
            + "malformed headers \(malformedHeaders), HCS errors \(hcsErrors), FCS errors \(fcsErrors), "
            + "truncated \(truncatedFrames), oversize \(oversizeFrames)"
    }
}

/// A streaming HDLC deframer over one fixed buffer allocated at init: feed bytes as they arrive, pull
/// complete, validated frames.
///
/// Frames are delimited by their length field, never by scanning for the next flag (`7E` legally occurs
/// inside the info field and the FCS). After garbage, repeated flags, truncated frames, bad HCS or FCS
/// and oversize lengths it resynchronises on the next flag after the failed one (a cut frame is followed
/// by the next frame inside its declared length) and counts the discard in ``counters``. Back-to-back
/// frames may share a flag. No input makes it trap; pulling a frame allocates nothing.
///
/// ```swift
/// var deframer = Deframer()
/// deframer.feed(chunk) { frame, bytes in
///     // `bytes` is exactly the frame, flags included; `frame.infoRange` indexes into it.
/// }
/// // On the inter-frame timeout (the caller owns timers): give up a frame that stopped arriving.
/// deframer.abandonPartialFrame()
/// ```
public struct Deframer: Sendable {
    /// Room for the largest frame the 11-bit length allows, both flags included.
    public static let defaultCapacity = HDLCFrame.maximumLength + 2

    @usableFromInline var storage: [UInt8]
    /// Unconsumed bytes are `storage[head..<tail]`.
    @usableFromInline var head = 0
    @usableFromInline var tail = 0
    /// True when `storage[head]` is the closing flag of the frame just delivered (it may open the next).
    @usableFromInline var atClosingFlag = false

    /// What was delivered and discarded so far.
    public internal(set) var counters = DeframerCounters()

    /// A deframer whose buffer holds `capacity` bytes (at least 16); frames declaring more are discarded
    /// as oversize. Size it from the negotiated max info field plus 32 to save memory, or keep the default.
    public init(capacity: Int = Deframer.defaultCapacity) {
        storage = [UInt8](repeating: 0, count: max(16, capacity))
    }

    /// The buffer size chosen at init.
    public var capacity: Int { storage.count }

    /// Bytes received but not yet delivered or discarded.
    public var bufferedCount: Int { tail &- head }

    /// True when bytes of a frame that has not fully arrived are waiting.
    public var hasPartialFrame: Bool { tail &- head > (atClosingFlag ? 1 : 0) }

    /// Copies as many of `bytes` as fit into the buffer and returns how many. Pull frames with
    /// ``nextFrame(_:)`` to make room; ``feed(_:_:)`` does both.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        if head > 0 {
            let live = tail &- head
            if live > 0 {
                storage.withUnsafeMutableBytes { buffer in
                    buffer.baseAddress.unsafelyUnwrapped.copyMemory(
                        from: buffer.baseAddress.unsafelyUnwrapped + head, byteCount: live)
                }
            }
            head = 0
            tail = live
        }
        let n = min(bytes.count, storage.count &- tail)
        if n > 0 {
            let at = tail
            storage.withUnsafeMutableBytes { buffer in
                UnsafeMutableRawBufferPointer(rebasing: buffer[at..<(at &+ n)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<n]))
            }
            tail &+= n
        }
        return n
    }

    /// The next complete, valid frame, handed to `body` with exactly its bytes (flags included; the frame's
    /// offsets index into them). Returns `nil` when no complete frame is buffered. The bytes are valid only
    /// inside `body`. Allocates nothing.
    public mutating func nextFrame<R, E: Error>(
        _ body: (HDLCFrame, UnsafeRawBufferPointer) throws(E) -> R
    ) throws(E) -> R? {
        guard let frame = locateFrame() else { return nil }
        let result: Result<R, E> = storage.withUnsafeBytes { buffer in
            let bytes = UnsafeRawBufferPointer(rebasing: buffer[frame.start..<(frame.start &+ frame.count)])
            var rebased = frame
            rebased.infoRange = (frame.infoRange.lowerBound &- frame.start)..<(frame.infoRange.upperBound &- frame.start)
            rebased.start = 0
            do throws(E) { return .success(try body(rebased, bytes)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// The next complete, valid frame as a new array (flags included), or `nil`.
    public mutating func nextFrame() -> [UInt8]? {
        nextFrame { (_: HDLCFrame, bytes: UnsafeRawBufferPointer) -> [UInt8] in [UInt8](bytes) }
    }

    /// Appends all of `bytes` and hands every complete frame to `body`, in order. When the buffer is full
    /// of one frame that can never complete, that frame is abandoned (counted as truncated) so that all
    /// input is consumed.
    public mutating func feed(
        _ bytes: UnsafeRawBufferPointer, _ body: (HDLCFrame, UnsafeRawBufferPointer) -> Void
    ) {
        var offset = 0
        while true {
            let n = append(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            offset &+= n
            var delivered = false
            while nextFrame(body) != nil { delivered = true }
            if offset == bytes.count { return }
            if n == 0 && !delivered { abandonPartialFrame() }
        }
    }

    /// Appends all of `bytes` and hands every complete frame to `body`, in order.
    public mutating func feed(_ bytes: [UInt8], _ body: (HDLCFrame, UnsafeRawBufferPointer) -> Void) {
        bytes.withUnsafeBytes { feed($0, body) }
    }

    /// Appends all of `bytes` and returns the complete frames, each as its own array (flags included).
    public mutating func feed(_ bytes: [UInt8]) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        feed(bytes) { _, frame in frames.append([UInt8](frame)) }
        return frames
    }

    /// Gives up the frame that has started but not finished arriving (call it when the inter-frame timeout
    /// expires): it is counted as truncated and the search restarts after its opening flag, so a complete
    /// frame that followed it in the buffer is still found.
    public mutating func abandonPartialFrame() {
        guard head < tail else { return }
        if storage[head] == 0x7E && !(atClosingFlag && tail &- head == 1) {
            counters.truncatedFrames &+= 1
        }
        head &+= 1
        atClosingFlag = false
    }

    /// Drops everything buffered (after a reconnect); counters are kept.
    public mutating func reset() {
        head = 0
        tail = 0
        atClosingFlag = false
    }

    /// Finds the next valid frame in the buffer, consuming and counting what precedes it.
    @usableFromInline mutating func locateFrame() -> HDLCFrame? {
        let capacity = storage.count
        return storage.withUnsafeBytes { b -> HDLCFrame? in
            while true {
                // Hunt for a flag.
                while head < tail && b[head] != 0x7E {
                    counters.garbageBytes &+= 1
                    head &+= 1
                    atClosingFlag = false
                }
                guard tail &- head >= 2 else { return nil }
                let next = b[head &+ 1]
                if next == 0x7E {
                    counters.repeatedFlags &+= 1
                    head &+= 1
                    atClosingFlag = true
                    continue
                }
                if next & 0xF0 != 0xA0 {
                    // A previous frame's closing flag followed by noise is not a bad header.
                    if !atClosingFlag { counters.malformedHeaders &+= 1 }
                    head &+= 1
                    atClosingFlag = false
                    continue
                }
                if tail &- head >= 3 {
                    let total = (Int(next & 0x07) &<< 8 | Int(b[head &+ 2])) &+ 2
                    if total > capacity {
                        counters.oversizeFrames &+= 1
                        head &+= 1
                        atClosingFlag = false
                        continue
                    }
                }
                switch HDLCFrame.scan(b, start: head, end: tail) {
                case let .frame(frame):
                    counters.frames &+= 1
                    // Keep the closing flag: it may also open the next frame.
                    head = frame.start &+ frame.count &- 1
                    atClosingFlag = true
                    return frame
                case .needMore:
                    return nil
                case let .invalid(error):
                    switch error {
                    case .hcsMismatch: counters.hcsErrors &+= 1
                    case .fcsMismatch: counters.fcsErrors &+= 1
                    case .missingClosingFlag: counters.truncatedFrames &+= 1
                    default: counters.malformedHeaders &+= 1
                    }
                    // Resume right after this flag, not after the declared length: a frame cut short
                    // is followed by the next frame, which lies inside that length.
                    head &+= 1
                    atClosingFlag = false
                }
            }
        }
    }
}
