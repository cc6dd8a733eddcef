/// RelaisSFU: the sans-IO forwarding core. Packets and time in; rewritten packets, RTCP and
/// deadlines out. The server's media loops drive it; tests drive it with a fake clock.
public enum RelaisSFU {}
