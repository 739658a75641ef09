/*
 * qword - where the words of a question start and end, the one word
 * splitter the compiler and metric stages share so that both see the same
 * words in "what's the 2024-03-01 revenue of PG-13 films". It only finds
 * word boundaries: lowercasing, stemming, numbers and the stages' own
 * special cases ("non-", a possessive "'s") stay with the caller. Pure: no
 * allocation, no host, no I/O.
 */
#ifndef DC_COMMON_QWORD_H
#define DC_COMMON_QWORD_H

#include <stddef.h>

/* Letters, digits, '_' and any byte of a UTF-8 sequence. */
int qword_byte(unsigned char c);

/* The next word of q[0..n) at or after *pos: a run of word bytes joined
 * across an apostrophe or '-' between word bytes ("isn't", "2024-03-01")
 * and across any byte of digit_joiners between two digits (".": "12.5";
 * ".,": also "1,000"). Sets [*start, *end), moves *pos past the word and
 * returns 1; returns 0 when no word is left. digit_joiners may be NULL. */
int qword_next(const char *q, size_t n, size_t *pos, const char *digit_joiners, size_t *start,
               size_t *end);

#endif
