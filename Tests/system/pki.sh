#!/usr/bin/env bash
# Test PKI for the uplink and agent tests: one script shared by the Python fixture (fixtures/broker.py) and
# the Swift tests (Tests/UplinkTests), so both speak to brokers with the same certificates.
#
# Usage: pki.sh OUT_DIR [PASSWORD_USER PASSWORD]
# Writes into OUT_DIR:
#   ca.crt ca.key                  the test CA
#   server.crt server.key          server cert, SAN DNS:localhost, IP:127.0.0.1, serverAuth
#   client.crt client.key          client cert signed by the CA, clientAuth
#   evil-ca.crt evil-ca.key        a second CA that signed nothing the broker trusts
#   evil-client.crt evil-client.key  a client cert signed by the evil CA
#   wrongname.crt wrongname.key    server cert signed by the CA for DNS:wrong.example only
#   expired.crt expired.key        server cert signed by the CA, valid 2020-01-01..2021-01-01 (expired)
#   passwd                         mosquitto password file (when PASSWORD_USER is given)
# Keys are EC P-256 (fast to make). Exits non-zero with openssl's message on any failure.
set -euo pipefail

out=${1:?usage: pki.sh OUT_DIR [USER PASSWORD]}
user=${2:-}
password=${3:-}
mkdir -p "$out"
cd "$out"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() { # name subject
    key "$1.key"
    openssl req -x509 -new -key "$1.key" -sha256 -days 3650 -subj "/CN=$2" -out "$1.crt" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}

leaf() { # name ca subject extfile-lines
    local name=$1 issuer=$2 subject=$3 ext=$4
    key "$name.key"
    openssl req -new -key "$name.key" -subj "/CN=$subject" -out "$name.csr"
    printf '%b\n' "$ext" > "$name.ext"
    openssl x509 -req -in "$name.csr" -CA "$issuer.crt" -CAkey "$issuer.key" -CAcreateserial \
        -days 825 -sha256 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
}

ca ca "dlms-bridge test CA"
ca evil-ca "evil test CA"

server_ext='basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1'
client_ext='basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth'
leaf server ca localhost "$server_ext"
leaf client ca "dlms-bridge gateway" "$client_ext"
leaf evil-client evil-ca "evil gateway" "$client_ext"
leaf wrongname ca wrong.example \
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:wrong.example'

# An expired certificate: openssl 3.0's `x509 -req` has no -not_before/-not_after (3.4+), but `openssl ca`
# takes explicit -startdate/-enddate, so the validity window can lie wholly in the past without faketime.
key expired.key
openssl req -new -key expired.key -subj "/CN=localhost" -out expired.csr
mkdir -p ca-db
: > ca-db/index.txt
echo 1000 > ca-db/serial
cat > ca-db/ca.cnf <<CNF
[ ca ]
default_ca = test_ca
[ test_ca ]
database = ca-db/index.txt
serial = ca-db/serial
new_certs_dir = ca-db
certificate = ca.crt
private_key = ca.key
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
x509_extensions = server_ext
[ any ]
commonName = supplied
[ server_ext ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
CNF
openssl ca -batch -config ca-db/ca.cnf -in expired.csr -out expired.crt -notext \
    -startdate 20200101000000Z -enddate 20210101000000Z 2>/dev/null
rm -rf expired.csr ca-db ./*.srl

if [ -n "$user" ]; then
    : > passwd
    mosquitto_passwd -b passwd "$user" "$password"
fi
chmod 600 ./*.key
