import Testing
import Glibc
@testable import Platform

@Suite struct PlatformTests {
    @Test func monotonicArithmetic() {
        let t = MonotonicInstant(nanoseconds: 5_000_000_000)
        #expect(t.advanced(byMilliseconds: 1500).milliseconds(since: t) == 1500)
        #expect(t.advanced(byMilliseconds: -6000).nanoseconds == 0)
        #expect(t.milliseconds(since: t.advanced(byMilliseconds: 20)) == -20)
    }

    @Test func queueHandsElementsAcrossThreadsInOrder() throws {
        let queue = BlockingQueue<Int>()
        let producer = try PlatformThread.spawn(name: "test-producer") {
            for i in 0..<1000 { queue.push(i) }
            queue.close()
        }
        var got: [Int] = []
        while let v = queue.pop(deadline: .after(milliseconds: 10_000)) { got.append(v) }
        producer.join()
        #expect(got == Array(0..<1000))
        #expect(queue.push(1) == false)
    }

    @Test func popTimesOutOnEmptyQueue() {
        let queue = BlockingQueue<Int>()
        let start = MonotonicInstant.now()
        #expect(queue.pop(deadline: .after(milliseconds: 30)) == nil)
        #expect(MonotonicInstant.now().milliseconds(since: start) >= 29)
    }

    @Test func pollSeesDataAndHangUp() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        #expect(try Poll.readable(fds[0], deadline: .after(milliseconds: 20)) == .timedOut)
        var b: UInt8 = 0x7E
        #expect(write(fds[1], &b, 1) == 1)
        #expect(try Poll.readable(fds[0], deadline: .after(milliseconds: 1000)) == .ready)
        _ = read(fds[0], &b, 1)
        close(fds[1])
        #expect(try Poll.readable(fds[0], deadline: .after(milliseconds: 1000)) == .hangUp)
        close(fds[0])
    }

    @Test func systemErrorDescribesCallAndErrno() {
        let e = SystemError("open(/nonexistent)", code: ENOENT)
        #expect(e.description == "open(/nonexistent) failed: No such file or directory (errno 2)")
        #expect(SystemError("write", code: ENOSPC).isNoSpace)
    }

    @Test func retryingInterruptsThrowsWithErrno() {
        #expect(throws: SystemError("close(-1)", code: EBADF)) { try retryingInterrupts("close(-1)") { close(-1) } }
    }
}
