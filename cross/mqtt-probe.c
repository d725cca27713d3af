/* mqtt-probe: the C half of `make cross`, proven without a Swift SDK.
 *
 * Linked fully static for a Raspberry Pi target exactly as the agent's C dependencies are (the cross-built
 * libmosquitto.a and Debian's OpenSSL archives for that architecture, against Debian's cross glibc), and run
 * under qemu-user by `make cross-c-check`: it connects to a broker with mutual TLS and a password, publishes
 * one message at QoS 1, waits for the PUBACK and disconnects. The calls are the ones the Uplink module makes.
 *
 *   mqtt-probe HOST PORT CA CERT KEY USER PASSWORD TOPIC PAYLOAD
 *
 * Exit status 0 when the broker acknowledged the message; otherwise a message on stderr says which step failed.
 */
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int acknowledged = 0;
static int connected = -1;

static void on_connect(struct mosquitto *m, void *ctx, int rc) {
    (void)m; (void)ctx;
    connected = rc;
}

static void on_publish(struct mosquitto *m, void *ctx, int mid) {
    (void)ctx; (void)mid;
    acknowledged = 1;
    mosquitto_disconnect(m);
}

static int fail(const char *step, int rc) {
    fprintf(stderr, "mqtt-probe: %s: %s\n", step, rc == MOSQ_ERR_TLS ? "TLS error" : mosquitto_strerror(rc));
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 10) {
        fprintf(stderr, "usage: mqtt-probe HOST PORT CA CERT KEY USER PASSWORD TOPIC PAYLOAD\n");
        return 2;
    }
    const char *host = argv[1], *ca = argv[3], *cert = argv[4], *key = argv[5];
    const char *user = argv[6], *password = argv[7], *topic = argv[8], *payload = argv[9];
    int port = atoi(argv[2]), rc;

    mosquitto_lib_init();
    struct mosquitto *m = mosquitto_new("dlms-bridge-cross-probe", true, NULL);
    if (!m) return fail("mosquitto_new", MOSQ_ERR_NOMEM);
    mosquitto_connect_callback_set(m, on_connect);
    mosquitto_publish_callback_set(m, on_publish);
    if ((rc = mosquitto_tls_set(m, ca, NULL, cert, key, NULL)) != MOSQ_ERR_SUCCESS) return fail("tls_set", rc);
    if ((rc = mosquitto_tls_opts_set(m, 1, "tlsv1.2", NULL)) != MOSQ_ERR_SUCCESS) return fail("tls_opts_set", rc);
    if ((rc = mosquitto_username_pw_set(m, user, password)) != MOSQ_ERR_SUCCESS) return fail("username_pw_set", rc);
    if ((rc = mosquitto_connect(m, host, port, 30)) != MOSQ_ERR_SUCCESS) return fail("connect", rc);
    while (connected < 0) {
        if ((rc = mosquitto_loop(m, 1000, 1)) != MOSQ_ERR_SUCCESS) return fail("waiting for CONNACK", rc);
    }
    if (connected != 0) {
        fprintf(stderr, "mqtt-probe: broker refused the connection: %s\n", mosquitto_connack_string(connected));
        return 1;
    }
    if ((rc = mosquitto_publish(m, NULL, topic, (int)strlen(payload), payload, 1, false)) != MOSQ_ERR_SUCCESS)
        return fail("publish", rc);
    /* on_publish disconnects; the loop then ends with MOSQ_ERR_NO_CONN. */
    while (!acknowledged) {
        if ((rc = mosquitto_loop(m, 1000, 1)) != MOSQ_ERR_SUCCESS) return fail("waiting for PUBACK", rc);
    }
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    printf("mqtt-probe: %s acknowledged by %s:%d over TLS\n", topic, host, port);
    return 0;
}
