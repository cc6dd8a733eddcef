#ifndef RELAIS_COPUS_SHIM_H
#define RELAIS_COPUS_SHIM_H
#include <opus/opus.h>
#endif
