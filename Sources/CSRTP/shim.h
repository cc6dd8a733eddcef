#ifndef RELAIS_CSRTP_SHIM_H
#define RELAIS_CSRTP_SHIM_H
#include <srtp2/srtp.h>
#include <srtp2/crypto_types.h>
#endif
