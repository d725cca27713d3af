#ifndef DLMS_BRIDGE_CMOSQUITTO_SHIM_H
#define DLMS_BRIDGE_CMOSQUITTO_SHIM_H
#include <mosquitto.h>
#include <mqtt_protocol.h>
#endif
