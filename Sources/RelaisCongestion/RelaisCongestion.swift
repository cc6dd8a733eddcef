/// Sans-IO send-side congestion control for the sender of a transport (Google Congestion Control,
/// draft-ietf-rmcat-gcc-02, as libwebrtc's goog_cc shapes it): the sender notes each packet it
/// sends with its transport-wide sequence number, hands in the receiver's transport-wide feedback
/// (TWCC), and reads a target bitrate.
///
/// - `DelayBasedDetector` groups packets by send time, tracks the growth of the one-way queueing
///   delay with a trendline (a least-squares slope over the last groups) and compares it with an
///   adaptive threshold: overusing, normal or underusing.
/// - `AIMDRateControl` turns that signal into a rate: a multiplicative decrease to 85% of what the
///   receiver acknowledged on overuse, a multiplicative (far from the last congestion) or additive
///   (near it) increase otherwise.
/// - `AcknowledgedBitrate` measures what the receiver got, the base of every decrease.
/// - `ProbeController` and `ProbeBitrateEstimator` find capacity the 8%-a-second increase would
///   take long to reach (after start-up, or when a link recovers): a 40 ms cluster at twice the
///   estimate (media plus padding), its arrival rate from the feedback, the estimate raised to it.
/// - `SendSideBandwidthEstimator` ties them together with the loss-based bound (a loss above 10%
///   lowers the target; under 2% it does not constrain) and a send history.
///
/// Time comes in as `Instant`s and arrival times as the feedback's microseconds; nothing here reads
/// a clock, sleeps or allocates per packet.
public enum RelaisCongestion {}
