#include "qword.h"

#include <ctype.h>
#include <string.h>

int qword_byte(unsigned char c)
{
    return isalnum(c) || c == '_' || c >= 0x80;
}

int qword_next(const char *q, size_t n, size_t *pos, const char *digit_joiners, size_t *start,
               size_t *end)
{
    size_t i = *pos;
    while (i < n && !qword_byte((unsigned char)q[i]))
        i++;
    if (i >= n) {
        *pos = n;
        return 0;
    }
    size_t s = i;
    for (;;) {
        while (i < n && qword_byte((unsigned char)q[i]))
            i++;
        if (i + 1 < n && qword_byte((unsigned char)q[i + 1]) &&
            (q[i] == '\'' || q[i] == '-' ||
             (q[i] && digit_joiners && strchr(digit_joiners, q[i]) &&
              isdigit((unsigned char)q[i - 1]) && isdigit((unsigned char)q[i + 1])))) {
            i++;
            continue;
        }
        break;
    }
    *start = s;
    *end = i;
    *pos = i;
    return 1;
}
