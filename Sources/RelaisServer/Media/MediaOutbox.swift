package import NIOCore

/// The datagrams one media loop has composed since its last flush, in buffers it reuses.
///
/// Sending must not allocate per packet. NIO's `ByteBuffer` is copy-on-write over a reference
/// counted storage: once the channel has written a datagram and dropped its copy, the pool's
/// buffer is uniquely referenced again, so `clear()` and a write reuse the same storage. The pool
/// is a ring larger than any flush batch; should a buffer still be held by NIO when its turn comes
/// (a socket that returned EAGAIN keeps its pending writes), `clear()` gives it fresh storage:
/// one allocation, never a corruption.
///
/// Datagrams wait here until the loop flushes (once per read batch in `channelReadComplete`, and
/// after each timer tick), then go to the channel together so NIO hands them to the kernel in one
/// `sendmmsg`. Benchmarks drain the outbox into a sink instead of a socket, so they run exactly
/// the code the server runs up to the socket.
package struct MediaOutbox {
    private var pool: [ByteBuffer]
    private var next = 0
    /// Datagrams composed since the last flush, oldest first.
    package private(set) var pending: [AddressedEnvelope<ByteBuffer>]
    /// Pending datagrams at which the loop flushes without waiting for the read batch to end: a
    /// recvmmsg batch of keyframe packets times three subscribers would otherwise hold the first
    /// packet back for milliseconds, while 32 datagrams per sendmmsg already amortize the syscall.
    static let flushThreshold = 32

    /// - Parameters:
    ///   - buffers: ring size; must exceed the datagrams in flight between two flushes.
    ///   - bufferCapacity: bytes per buffer, at least the largest datagram the loop sends.
    init(buffers: Int = 1024, bufferCapacity: Int, allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        precondition(buffers > Self.flushThreshold, "the ring must outlast a batch")
        pool = (0..<buffers).map { _ in allocator.buffer(capacity: bufferCapacity) }
        pending = []
        pending.reserveCapacity(Self.flushThreshold + 16)
    }

    var count: Int { pending.count }

    /// Copies `bytes` into the next pooled buffer and queues it for `destination`.
    mutating func enqueue(_ bytes: UnsafeRawBufferPointer, to destination: SocketAddress) {
        let index = next
        next = next + 1 == pool.count ? 0 : next + 1
        pool[index].clear()
        pool[index].writeBytes(bytes)
        pending.append(AddressedEnvelope(remoteAddress: destination, data: pool[index]))
    }

    /// Hands every pending datagram to `body`, oldest first, and empties the queue.
    package mutating func drain(_ body: (AddressedEnvelope<ByteBuffer>) -> Void) {
        for envelope in pending { body(envelope) }
        pending.removeAll(keepingCapacity: true)
    }
}
