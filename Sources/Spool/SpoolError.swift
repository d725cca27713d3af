import Platform

/// What went wrong with the spool, written for the operator reading the log or the health topic: each
/// description says what happened, what the spool does about it, and what to do.
public enum SpoolError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file system holding the spool is full (ENOSPC, EDQUOT, or EFBIG from a file-size limit).
    /// Readings are kept in memory up to `memoryBudgetBytes` and then the oldest are dropped.
    case noSpace(directory: String, memoryBudgetBytes: Int, underlying: SystemError)
    /// The file system holding the spool is read-only (EROFS), typically an SD card that the kernel
    /// remounted read-only after I/O errors.
    case readOnly(directory: String, memoryBudgetBytes: Int, underlying: SystemError)
    /// Another I/O failure on a spool file (EIO and the like).
    case io(path: String, underlying: SystemError)
    /// The spool directory cannot be created or opened.
    case cannotOpen(directory: String, underlying: SystemError)
    /// A reading bigger than one record may be (a bug in the caller or a very large measurement list).
    case recordTooLarge(bytes: Int, limit: Int)
    /// A configuration value that cannot work (e.g. SPOOL_MAX_BYTES smaller than two segments).
    case invalidConfiguration(String)
    /// The spool was used after `close()`.
    case closed(directory: String)

    public var description: String {
        switch self {
        case let .noSpace(dir, budget, e):
            return "spool at \(dir) is on a full file system (\(e.message)): free space or lower SPOOL_MAX_BYTES; "
                + "readings are kept in memory up to \(budget) bytes and then the oldest dropped; "
                + "the spool retries writing to flash and recovers by itself once space is free"
        case let .readOnly(dir, budget, e):
            return "spool at \(dir) is on a read-only file system (\(e.message)): the flash card may be failing "
                + "(check `dmesg` for I/O errors) or the mount is read-only; remount it read-write or point "
                + "SPOOL_DIR elsewhere; readings are kept in memory up to \(budget) bytes and then the oldest dropped"
        case let .io(path, e):
            return "spool I/O error on \(path): \(e.description); the flash card may be failing (check `dmesg`); "
                + "readings are kept in memory meanwhile"
        case let .cannotOpen(dir, e):
            return "cannot open the spool directory \(dir): \(e.description); create it or set SPOOL_DIR to a "
                + "writable directory on persistent storage"
        case let .recordTooLarge(bytes, limit):
            return "a reading of \(bytes) bytes exceeds the spool's record limit of \(limit) bytes; measure fewer "
                + "objects per reading (DLMS_MEASUREMENTS) or raise the spool segment size"
        case let .invalidConfiguration(why):
            return "invalid spool configuration: \(why)"
        case let .closed(dir):
            return "spool at \(dir) was used after it was closed (a bug: report it)"
        }
    }

    /// True when the spool keeps working in memory and retries (full or read-only file system, I/O error).
    public var isDegradedMode: Bool {
        switch self {
        case .noSpace, .readOnly, .io: return true
        default: return false
        }
    }
}
