import Testing

@testable import RelaisSFU

@Suite("KeyframeRequestThrottle")
struct KeyframeRequestThrottleTests {
    @Test func oneRequestPerIntervalAndTheLastOneIsNeverLost() {
        var throttle = KeyframeRequestThrottle()
        #expect(throttle.nextDeadline == nil)
        #expect(throttle.request(now: ms(1000)) == true)  // first goes through
        #expect(throttle.request(now: ms(1100)) == false)  // remembered
        #expect(throttle.request(now: ms(1200)) == false)  // folded into the remembered one
        #expect(throttle.nextDeadline == ms(1500))
        #expect(throttle.poll(now: ms(1499)) == false)
        #expect(throttle.poll(now: ms(1500)) == true)  // released when the interval ends
        #expect(throttle.poll(now: ms(1600)) == false)  // only once
        #expect(throttle.nextDeadline == nil)
        #expect(throttle.forwarded == 2)
        #expect(throttle.suppressed == 1)
        // The release started a new interval.
        #expect(throttle.request(now: ms(1900)) == false)
        #expect(throttle.nextDeadline == ms(2000))
        #expect(throttle.request(now: ms(2000)) == true)  // a request at the deadline goes straight through
        #expect(throttle.nextDeadline == nil)
        #expect(throttle.poll(now: ms(3000)) == false)
    }

    @Test func quietTracksForwardEveryRequest() {
        var throttle = KeyframeRequestThrottle(interval: .milliseconds(200))
        for t: UInt64 in [0, 200, 1000, 5000] { #expect(throttle.request(now: ms(t)) == true) }
        #expect(throttle.forwarded == 4)
    }
}
