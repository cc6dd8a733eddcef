// RelaisMedia: media for the headless client (relais-client): libvpx/libopus codecs, RTP payload
// formats, jitter buffer, the test pattern, IVF/Ogg files. Sans-IO: frames and packets in and out.
