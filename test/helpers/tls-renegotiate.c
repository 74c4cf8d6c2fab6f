/*
 * A TLS 1.2 client that connects presenting one certificate, optionally renegotiates
 * presenting another (what no ordinary client library offers), then sends a raw HTTP/1.1
 * request and prints the response. Compiled by test/mtls-identity.test.ts.
 * Usage: tls-renegotiate <port> <cert> <key> <renegotiate-cert|-> <renegotiate-key|-> <request-file>
 * Exit 2 when the server refuses the renegotiation.
 */
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 7) return 64;
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_use_certificate_file(ctx, argv[2], SSL_FILETYPE_PEM);
  SSL_CTX_use_PrivateKey_file(ctx, argv[3], SSL_FILETYPE_PEM);
  static const unsigned char alpn[] = "\x08http/1.1";
  SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)atoi(argv[1]));
  addr.sin_addr.s_addr = htonl(0x7f000001);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) return 1;
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "localhost");
  if (SSL_connect(ssl) != 1) return 1;
  if (strcmp(argv[4], "-") != 0) {
    SSL_use_certificate_file(ssl, argv[4], SSL_FILETYPE_PEM);
    SSL_use_PrivateKey_file(ssl, argv[5], SSL_FILETYPE_PEM);
    if (SSL_renegotiate(ssl) != 1 || SSL_do_handshake(ssl) != 1) {
      puts("renegotiation refused");
      return 2;
    }
  }
  FILE *f = fopen(argv[6], "rb");
  if (!f) return 1;
  char buf[16384];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  if (SSL_write(ssl, buf, (int)n) <= 0) return 1;
  int k;
  while ((k = SSL_read(ssl, buf, sizeof buf - 1)) > 0) {
    buf[k] = 0;
    fputs(buf, stdout);
  }
  return 0;
}
