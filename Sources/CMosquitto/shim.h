#ifndef DLMS_BRIDGE_CMOSQUITTO_SHIM_H
#define DLMS_BRIDGE_CMOSQUITTO_SHIM_H
#include <mosquitto.h>
#include <mqtt_protocol.h>
// Only to explain a failed handshake: SSL_get_verify_result, X509_verify_cert_error_string, X509_check_host.
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#endif
