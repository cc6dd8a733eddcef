// RelaisSFU: the sans-IO forwarding core (mediasoup's vocabulary: a published track feeds one
// DownTrack per subscriber). Packets and time in; rewritten packets, RTCP and deadlines out. The
// server's media loops drive it; tests drive it with a fake clock.
//
// What the relay keeps about a publisher's incoming stream (receive statistics, report blocks, NACK
// generation) is in RelaisReceive, shared with the client; this module keeps what is forwarding's.
