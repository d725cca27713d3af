#ifndef DLMS_BRIDGE_CMOSQUITTO_SHIM_H
#define DLMS_BRIDGE_CMOSQUITTO_SHIM_H
#include <mosquitto.h>
#include <mqtt_protocol.h>
// Only for the verify result of a failed handshake (SSL_get_verify_result, X509_verify_cert_error_string).
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#endif
