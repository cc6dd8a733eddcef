#ifndef RELAIS_CVPX_SHIM_H
#define RELAIS_CVPX_SHIM_H
#include <vpx/vpx_codec.h>
#include <vpx/vpx_encoder.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vp8cx.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_image.h>
#endif
