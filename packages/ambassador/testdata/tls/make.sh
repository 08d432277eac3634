#!/usr/bin/env sh
# Regenerates the test CA used by the TLS tests (throw-away keys, never used outside tests):
# a CA, a server certificate for upstream.test and 127.0.0.1, a client certificate for mTLS, and
# the certificates a TLS-terminating listener serves: site-a (a.example.test, *.apps.example.test),
# its renewal site-a-renewed (same names, new key), and site-b (b.example.test).
# Valid for 100 years so the Node-only test suite needs no openssl at run time.
set -eu
cd "$(dirname "$0")"
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $ec -keyout ca.key -out ca.pem -days 36500 -subj '/CN=multipod test CA' 2>/dev/null
issue() {
  printf '%b' "$3" > "$1.ext"
  openssl req $ec -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" -days 36500 -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
issue server '/CN=upstream.test' 'subjectAltName=DNS:upstream.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'
issue client '/CN=ambassador' 'extendedKeyUsage=clientAuth\n'
issue site-a '/CN=a.example.test' 'subjectAltName=DNS:a.example.test,DNS:*.apps.example.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'
issue site-a-renewed '/CN=a.example.test' 'subjectAltName=DNS:a.example.test,DNS:*.apps.example.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'
issue site-b '/CN=b.example.test' 'subjectAltName=DNS:b.example.test\nextendedKeyUsage=serverAuth\n'
rm -f ca.srl
