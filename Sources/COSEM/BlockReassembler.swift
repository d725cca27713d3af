/// Reassembles a long GET answer (GET-Response-With-Datablock) and tells the caller which
/// GET-Request-Next to send.
///
/// The standard numbers blocks from 1; some meters count from 0. The first block may carry either number;
/// every later one must be the previous number + 1. Chunks are concatenated raw and decoded once at the end.
public struct BlockReassembler: Sendable {
    /// What to do after a block.
    public enum Step: Equatable, Sendable {
        /// Send this GET-Request-Next (it acknowledges the block just received).
        case sendNext(GetRequest)
        /// The transfer is complete: the concatenated raw data (an A-XDR Data, or a with-list result list).
        case complete([UInt8])
    }

    public let invoke: InvokeIdAndPriority
    /// The largest total the transfer may reach before it is aborted.
    public let maxSize: Int
    /// The data received so far.
    public private(set) var data: [UInt8] = []
    /// The number of the last block accepted; nil before the first.
    public private(set) var lastBlockNumber: UInt32?
    /// Blocks accepted so far.
    public private(set) var blockCount = 0

    public init(invoke: InvokeIdAndPriority, maxSize: Int = 1 << 20) {
        self.invoke = invoke
        self.maxSize = maxSize
    }

    /// True when the last block has been accepted.
    public private(set) var isComplete = false

    /// Accepts the next block.
    /// - Throws: `.dataAccess` when the meter aborts the transfer, `.blockOutOfSequence` for a gap or a
    ///   repeat, `.blockTransferTooLarge` over `maxSize`.
    public mutating func receive(_ block: DataBlock) throws(COSEMError) -> Step {
        if isComplete { throw COSEMError.blockOutOfSequence(expected: (lastBlockNumber ?? 0) &+ 1, received: block.blockNumber) }
        if let last = lastBlockNumber {
            guard block.blockNumber == last &+ 1 else {
                throw COSEMError.blockOutOfSequence(expected: last &+ 1, received: block.blockNumber)
            }
        } else {
            // Tolerate meters that count blocks from 0 as well as the standard 1.
            guard block.blockNumber <= 1 else { throw COSEMError.blockOutOfSequence(expected: 1, received: block.blockNumber) }
        }
        let chunk: [UInt8]
        switch block.result {
        case let .raw(bytes): chunk = bytes
        case let .error(result): throw COSEMError.dataAccess(result)
        }
        if data.count + chunk.count > maxSize {
            throw COSEMError.blockTransferTooLarge(size: data.count + chunk.count, limit: maxSize)
        }
        data.append(contentsOf: chunk)
        lastBlockNumber = block.blockNumber
        blockCount += 1
        if block.lastBlock {
            isComplete = true
            return .complete(data)
        }
        return .sendNext(.next(invoke: invoke, block: block.blockNumber))
    }
}
