// RelaisSFU: the sans-IO forwarding core (mediasoup's vocabulary: a published track feeds one
// DownTrack per subscriber). Packets and time in; rewritten packets, RTCP and deadlines out. The
// server's media loops drive it; tests drive it with a fake clock.
