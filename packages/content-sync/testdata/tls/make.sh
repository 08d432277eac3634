#!/usr/bin/env sh
# Regenerates the throw-away CA of the tests of SYNC_CA_FILE (never used outside tests): a CA, and a
# server certificate for 127.0.0.1 and localhost that it signed. Valid for 100 years, so the tests
# need no openssl at run time.
set -eu
cd "$(dirname "$0")"
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $ec -keyout ca.key -out ca.pem -days 36500 -subj '/CN=content-sync test CA' 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
openssl req $ec -keyout server.key -out server.csr -subj '/CN=localhost' 2>/dev/null
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 36500 -extfile server.ext 2>/dev/null
rm -f server.csr server.ext ca.srl ca.key
