// RelaisReceive: what a receiver of RTP keeps about each incoming stream, shared by the relay
// (RelaisServer, for its publishers' streams) and the headless client (RelaisMedia/RelaisClient,
// for the streams it subscribes to), so that both apply one policy with one set of constants:
//
//   ReceiveStatistics      RFC 3550 §A.1 sequence validation with probation, §A.3 loss, §A.8
//                          jitter, §6.4.1 LSR/DLSR, and the report block of the next RR or SR
//   ReceiverReportBuilder  at most 31 report blocks in one RR (RFC 3550 §6.4.2)
//   NackGenerator          which missing packets to NACK (RFC 4585 §6.2.1), when, and when to
//                          give up, and the Generic NACK bytes
//
// Transport-wide congestion-control feedback (RFC 8888 and transport-cc / TWCC) is receive-side
// state of the same kind and belongs here when bandwidth adaptation lands.
//
// Sans-IO and allocation-free per packet: callers pass packets and `Instant`s read from their own
// clock (tests pass a fake one), and read reports, NACK lists and deadlines back. It depends only
// on RelaisWire.
