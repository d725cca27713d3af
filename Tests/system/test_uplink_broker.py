"""The broker fixture itself, checked with mosquitto's own clients: the production setup accepts the right
client and refuses each wrong one with the broker log line an operator would look for. The Swift uplink tests
(Tests/UplinkTests) check the same cases through dlms-bridge's MQTT client."""
import subprocess


def pub(broker, *extra, args=None, version="mqttv311"):
    cmd = ["mosquitto_pub", *(args if args is not None else broker.client_args()), "-V", version,
           "-t", "fixture/check", "-m", "hello", "-q", "1", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=20)


def test_mutual_tls_publish_reaches_a_subscriber(tls_broker):
    sub = subprocess.Popen(["mosquitto_sub", *tls_broker.client_args(), "-t", "fixture/check", "-C", "1",
                            "-W", "20"], stdout=subprocess.PIPE, text=True)
    try:
        tls_broker.wait_for_log(r"Received SUBSCRIBE")
        assert pub(tls_broker).returncode == 0
        out, _ = sub.communicate(timeout=20)
        assert out.strip() == "hello"
    finally:
        sub.kill()
        sub.wait()


def test_wrong_password_is_not_authorised(tls_broker):
    args = tls_broker.client_args()
    args[args.index("-P") + 1] = "wrong"
    assert pub(tls_broker, args=args).returncode != 0
    tls_broker.wait_for_log(r"not authorised")


def test_evil_ca_is_refused(tls_broker, pki):
    assert pub(tls_broker, args=tls_broker.client_args(ca=pki.evil_ca)).returncode != 0
    tls_broker.wait_for_log(r"unknown ca")


def test_missing_client_certificate_is_refused(tls_broker):
    assert pub(tls_broker, args=tls_broker.client_args(cert=False)).returncode != 0
    tls_broker.wait_for_log(r"peer did not return a certificate")


def test_wrong_name_and_expired_server_certificates_are_refused(make_broker):
    for cert in ("wrongname", "expired"):
        broker = make_broker(server_cert=cert)
        result = pub(broker)
        assert result.returncode != 0, cert
        assert "TLS" in result.stderr or "certificate" in result.stderr, result.stderr


def test_broker_restarts_on_the_same_port(plain_broker):
    port = plain_broker.port
    plain_broker.stop()
    assert pub(plain_broker).returncode != 0
    plain_broker.start()
    assert plain_broker.port == port
    assert pub(plain_broker).returncode == 0
