/*
 * sha256 - SHA-256 (FIPS 180-4) for the audit chain, result hashes and
 * plugin pins.
 * It owns only the digest arithmetic: no allocation, no I/O, no global
 * state. It exists so that the core does not pay a crypto library's
 * start-up (provider set-up and relocations cost more than a whole catalog
 * answer); the test vectors in tests/unit/test_sha256.c pin it.
 */
#ifndef DC_SHA256_H
#define DC_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
    uint32_t h[8];
    uint64_t bytes;       /* message length so far */
    unsigned char buf[64];
    size_t nbuf;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t n);
void sha256_final(struct sha256 *s, unsigned char out[32]);
/* Lowercase hex of a 32-byte digest into out[65]. */
void sha256_hex(const unsigned char digest[32], char out[65]);
/* Lowercase hex SHA-256 of n bytes into out[65] in one call: the host
 * table's sha256_hex, in the core and in the SDK test kit alike. */
void sha256_hex_of(const void *data, size_t n, char *out);

#endif
