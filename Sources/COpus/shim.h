#ifndef RELAIS_COPUS_SHIM_H
#define RELAIS_COPUS_SHIM_H
#include <opus/opus.h>

/* opus_encoder_ctl is variadic, which Swift cannot call: one fixed-signature wrapper per request
   the client uses. Each returns OPUS_OK or a libopus error code. */
static inline int relais_opus_set_bitrate(OpusEncoder *encoder, opus_int32 bitsPerSecond) {
    return opus_encoder_ctl(encoder, OPUS_SET_BITRATE(bitsPerSecond));
}

static inline int relais_opus_get_bitrate(OpusEncoder *encoder, opus_int32 *bitsPerSecond) {
    return opus_encoder_ctl(encoder, OPUS_GET_BITRATE(bitsPerSecond));
}

static inline int relais_opus_set_inband_fec(OpusEncoder *encoder, opus_int32 enabled) {
    return opus_encoder_ctl(encoder, OPUS_SET_INBAND_FEC(enabled));
}

static inline int relais_opus_set_packet_loss_percentage(OpusEncoder *encoder, opus_int32 percentage) {
    return opus_encoder_ctl(encoder, OPUS_SET_PACKET_LOSS_PERC(percentage));
}
#endif
