#include "extract.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "datephrase.h"
#include "qword.h"

#define W_MAX 48

struct tok {
    size_t off, len;
    char low[W_MAX];
    char stem[W_MAX];
    int is_num, num_int;
    double num;
    int used;
};

struct toks {
    const char *src;
    size_t n;
    struct tok t[MX_MAX_TOKENS];
};

/* ---- words ---------------------------------------------------------------- */

/* Plural to singular, enough for metric names: "sales" -> "sale",
 * "categories" -> "category", "boxes" stays close enough ("boxe") on both
 * sides of a comparison because both sides are stemmed the same way. */
static void stem(const char *w, char *out, size_t cap)
{
    size_t n = strlen(w);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, w, n);
    out[n] = '\0';
    if (n > 4 && strcmp(out + n - 3, "ies") == 0) {
        out[n - 3] = 'y';
        out[n - 2] = '\0';
    } else if (n > 3 && out[n - 1] == 's' && out[n - 2] != 's' && out[n - 2] != 'u' &&
               out[n - 2] != 'i') {
        out[n - 1] = '\0';
    }
}

static void set_number(struct tok *t)
{
    size_t n = strlen(t->low), dots = 0, digits = 0;
    for (size_t i = 0; i < n; i++) {
        if (isdigit((unsigned char)t->low[i]))
            digits++;
        else if (t->low[i] == '.')
            dots++;
        else
            return;
    }
    if (digits == 0 || dots > 1 || t->low[0] == '.' || t->low[n - 1] == '.')
        return;
    double v = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        if (t->low[i] == '.') {
            scale = 1;
            continue;
        }
        if (scale > 0) {
            scale /= 10;
            v += (t->low[i] - '0') * scale;
        } else {
            v = v * 10 + (t->low[i] - '0');
        }
    }
    t->is_num = 1;
    t->num = v;
    t->num_int = dots == 0 && digits <= 15;
}

/* Splits text into lowercase words; '-' and '.' join inside a word
 * ("2024-03-01", "12.5", "e-commerce"), apostrophes vanish ("what's").
 * Returns -1 past the caps. */
static int tokenize(const char *q, size_t n, struct toks *out)
{
    out->src = q;
    out->n = 0;
    if (n > MX_MAX_BYTES)
        return -1;
    size_t pos = 0, s, i;
    while (qword_next(q, n, &pos, ".", &s, &i)) {
        if (out->n >= MX_MAX_TOKENS)
            return -1;
        struct tok *t = &out->t[out->n];
        memset(t, 0, sizeof(*t));
        t->off = s;
        t->len = i - s;
        size_t k = 0;
        for (size_t j = s; j < i && k + 1 < W_MAX; j++)
            if (q[j] != '\'')
                t->low[k++] = (char)tolower((unsigned char)q[j]);
        t->low[k] = '\0';
        if (k == 0)
            continue;
        set_number(t);
        stem(t->low, t->stem, sizeof(t->stem));
        out->n++;
    }
    return 0;
}

/* A phrase as stems, words split at blanks, '_', '-' and '.'. */
struct phrase {
    size_t n;
    char w[8][W_MAX];
};

static int phrase_of(const char *text, struct phrase *p)
{
    p->n = 0;
    if (!text)
        return -1;
    const char *s = text;
    while (*s) {
        while (*s && !isalnum((unsigned char)*s) && (unsigned char)*s < 0x80)
            s++;
        if (!*s)
            break;
        if (p->n == 8)
            return -1;
        char low[W_MAX];
        size_t k = 0;
        while (*s && (isalnum((unsigned char)*s) || (unsigned char)*s >= 0x80 || *s == '\'')) {
            if (*s != '\'' && k + 1 < sizeof(low))
                low[k++] = (char)tolower((unsigned char)*s);
            s++;
        }
        low[k] = '\0';
        stem(low, p->w[p->n], W_MAX);
        p->n++;
    }
    return p->n ? 0 : -1;
}

/* Does phrase p occur at token i among unused tokens? */
static int phrase_at(const struct toks *tk, size_t i, const struct phrase *p)
{
    if (i + p->n > tk->n)
        return 0;
    for (size_t k = 0; k < p->n; k++)
        if (tk->t[i + k].used || strcmp(tk->t[i + k].stem, p->w[k]) != 0)
            return 0;
    return 1;
}

static void mark(struct toks *tk, size_t i, size_t n)
{
    for (size_t k = i; k < i + n && k < tk->n; k++)
        tk->t[k].used = 1;
}

/* The question's own words for tokens [i, i+n), for traces. */
static void span_text(const struct toks *tk, size_t i, size_t n, char *out, size_t cap)
{
    out[0] = '\0';
    if (n == 0 || i >= tk->n)
        return;
    size_t last = i + n - 1 < tk->n ? i + n - 1 : tk->n - 1;
    size_t a = tk->t[i].off, b = tk->t[last].off + tk->t[last].len;
    size_t len = b - a < cap - 1 ? b - a : cap - 1;
    size_t k = 0;
    for (size_t j = 0; j < len; j++) {
        unsigned char c = (unsigned char)tk->src[a + j];
        out[k++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    out[k] = '\0';
}

static int word_in(const char *w, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(w, list[i]) == 0)
            return 1;
    return 0;
}

/* Analyst filler around a metric question; nothing here names a metric,
 * a dimension or a value. */
static const char *const filler[] = {
    "what", "whats", "which", "is", "was", "were", "are", "be", "been", "the", "a", "an", "of",
    "our", "my", "me", "us", "we", "i", "you", "show", "give", "tell", "get", "list", "display",
    "how", "much", "many", "did", "do", "does", "total", "overall", "all", "in", "for", "during",
    "on", "at", "to", "and", "with", "please", "can", "could", "would", "report", "compute",
    "calculate", "find", "see", "value", "number", "figure", "figures", "amount", "its", "it",
    "from", "within", "so", "far", "current", "latest", "there", "have", "had", "has", "make",
    "made", "broken", "down", "split", "grouped", "each", "every", "per", "by", "only", "just",
    "look", "like", "whole", "entire", "period", "time", "range", "data", "metric", NULL};

/* ---- convention ------------------------------------------------------------ */

static int has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static int has_suffix(const char *s, const char *p)
{
    size_t n = strlen(s), m = strlen(p);
    return n >= m && strcmp(s + n - m, p) == 0;
}

static int ci_contains(const char *hay, const char *needle)
{
    if (!hay)
        return 0;
    size_t m = strlen(needle);
    for (; *hay; hay++) {
        size_t k = 0;
        while (k < m && hay[k] && tolower((unsigned char)hay[k]) == needle[k])
            k++;
        if (k == m)
            return 1;
    }
    return 0;
}

int mx_date_role(const struct dc_dp_param *p)
{
    if (!p || !p->name || !p->type ||
        (strcmp(p->type, "date") != 0 && strcmp(p->type, "timestamp") != 0))
        return 0;
    const char *n = p->name;
    if (has_prefix(n, "start") || has_prefix(n, "from") || has_prefix(n, "begin") ||
        has_prefix(n, "since") || has_suffix(n, "_from") || has_suffix(n, "_start") ||
        has_suffix(n, "_since"))
        return MX_ROLE_START;
    if (has_prefix(n, "end") || has_prefix(n, "to_") || strcmp(n, "to") == 0 ||
        has_prefix(n, "until") || has_prefix(n, "before") || has_suffix(n, "_to") ||
        has_suffix(n, "_end") || has_suffix(n, "_until")) {
        if (ci_contains(p->description, "inclusive") || ci_contains(p->description, "last day"))
            return MX_ROLE_END_INCL;
        return MX_ROLE_END;
    }
    return 0;
}

static int is_enumish(const struct dc_dp_param *p)
{
    return p->type && p->nvalues > 0 &&
           (strcmp(p->type, "enum") == 0 || strcmp(p->type, "string") == 0 ||
            strcmp(p->type, "identifier") == 0);
}

/* The breakdown parameter ("by region"): its values are dimension names,
 * matched only after by/per/for each, never as a filter. */
static int is_breakdown(const struct dc_dp_param *p)
{
    const char *n = p->name;
    return strcmp(n, "by") == 0 || has_prefix(n, "by_") || has_prefix(n, "group") ||
           has_prefix(n, "breakdown") || has_prefix(n, "dimension");
}

static const char *const unit_names[] = {"", "day", "week", "month", "quarter", "year"};
static const char *const unit_adverbs[] = {"", "daily", "weekly", "monthly", "quarterly", "yearly"};

/* The allowed value of p that means unit u, or NULL. */
static const char *unit_value(const struct dc_dp_param *p, int u)
{
    if (!is_enumish(p) || strcmp(p->type, "identifier") == 0)
        return NULL;
    for (size_t i = 0; i < p->nvalues; i++) {
        const char *v = p->values[i];
        if (!v)
            continue;
        char low[W_MAX];
        size_t k = 0;
        for (; v[k] && k + 1 < sizeof(low); k++)
            low[k] = (char)tolower((unsigned char)v[k]);
        low[k] = '\0';
        if (strcmp(low, unit_names[u]) == 0 || strcmp(low, unit_adverbs[u]) == 0)
            return v;
    }
    return NULL;
}

/* The granularity parameter: an enum whose values include a time unit. */
static const struct dc_dp_param *grain_param(const struct dc_datapoint_info *dp)
{
    for (size_t i = 0; i < dp->nparams; i++)
        for (int u = 1; u <= 5; u++)
            if (unit_value(dp->params[i], u))
                return dp->params[i];
    return NULL;
}

static int adverb_unit(const char *w)
{
    for (int u = 1; u <= 5; u++)
        if (strcmp(w, unit_adverbs[u]) == 0)
            return u;
    if (strcmp(w, "annually") == 0 || strcmp(w, "annual") == 0)
        return U_YEAR;
    return 0;
}

/* ---- result ------------------------------------------------------------------ */

static struct mx_value *value_slot(struct mx_match *m, const struct dc_dp_param *p)
{
    for (size_t i = 0; i < m->nvals; i++)
        if (m->vals[i].param == p)
            return &m->vals[i];
    if (m->nvals == MX_MAX_VALUES)
        return NULL;
    struct mx_value *v = &m->vals[m->nvals++];
    memset(v, 0, sizeof(*v));
    v->param = p;
    return v;
}

static void set_value(struct mx_match *m, const struct dc_dp_param *p, const char *value,
                      const char *phrase)
{
    struct mx_value *v = value_slot(m, p);
    if (!v)
        return;
    snprintf(v->value, sizeof(v->value), "%s", value);
    snprintf(v->phrase, sizeof(v->phrase), "%s", phrase);
}

static int is_set(const struct mx_match *m, const struct dc_dp_param *p)
{
    for (size_t i = 0; i < m->nvals; i++)
        if (m->vals[i].param == p)
            return 1;
    return 0;
}

static void list_values(const struct dc_dp_param *p, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < p->nvalues && len + 2 < cap; i++) {
        int w = snprintf(out + len, cap - len, "%s%s", i ? ", " : "", p->values[i]);
        if (w < 0)
            break;
        len += (size_t)w < cap - len ? (size_t)w : cap - len - 1;
    }
}

/* ---- matching ------------------------------------------------------------------ */

static int is_metric(const struct dc_datapoint_info *dp, const char *db)
{
    if (!dp || !dp->type || strcmp(dp->type, "metric") != 0 || !dp->id)
        return 0;
    if (!dp->sql_template && dp->nvariants == 0)
        return 0;
    return !dp->database || !db || strcmp(dp->database, db) == 0;
}

/* Does catalog name (split at '_', blanks and lower-to-upper case changes,
 * each part stemmed) contain the stem st as one of its words? */
static int name_has_word(const char *name, const char *st)
{
    const char *s = name;
    while (*s) {
        while (*s && !isalnum((unsigned char)*s))
            s++;
        char low[W_MAX], sm[W_MAX];
        size_t k = 0;
        while (*s && isalnum((unsigned char)*s)) {
            if (k > 0 && isupper((unsigned char)*s) && islower((unsigned char)s[-1]))
                break;
            if (k + 1 < sizeof(low))
                low[k++] = (char)tolower((unsigned char)*s);
            s++;
        }
        low[k] = '\0';
        if (k == 0)
            continue;
        stem(low, sm, sizeof(sm));
        if (strcmp(sm, st) == 0)
            return 1;
    }
    return 0;
}

static int schema_word(const struct mx_schema_words *sw, const char *st)
{
    for (size_t i = 0; i < sw->n; i++)
        if (sw->words[i] && name_has_word(sw->words[i], st))
            return 1;
    return 0;
}

/* Business meaning before bare names: a metric phrase whose every content
 * word also names a catalog object ("active customers" next to is_active
 * and customers) is still the DataPoint's, since its owner defined what the
 * phrase counts and the catalog only shares the words. The catalog names
 * the phrase shadows go to out, for the trace; "" when it shadows none. */
static void shadowed_names(const struct phrase *p, const struct mx_schema_words *sw, char *out,
                           size_t cap)
{
    size_t len = 0, content = 0;
    out[0] = '\0';
    if (!sw || sw->n == 0)
        return;
    for (size_t k = 0; k < p->n; k++) {
        if (word_in(p->w[k], filler))
            continue;
        content++;
        if (!schema_word(sw, p->w[k])) {
            out[0] = '\0';
            return;
        }
        for (size_t i = 0; i < sw->n; i++) {
            const char *name = sw->words[i];
            if (!name || !name_has_word(name, p->w[k]))
                continue;
            /* Each name once, however many words it shares. */
            size_t nl = strlen(name);
            const char *seen = out;
            int dup = 0;
            while (!dup && (seen = strstr(seen, name)) != NULL) {
                dup = (seen == out || seen[-1] == ' ') && (seen[nl] == ',' || seen[nl] == '\0');
                seen += nl;
            }
            if (dup || len + nl + 3 >= cap)
                continue;
            len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? ", " : "", name);
        }
    }
    if (content == 0)
        out[0] = '\0';
}

struct best {
    size_t score, at;
    struct phrase p; /* the phrase that matched */
};

/* The longest phrase of dp (id, name, synonyms) in the question. */
static struct best match_metric(const struct toks *tk, const struct dc_datapoint_info *dp)
{
    struct best b;
    memset(&b, 0, sizeof(b));
    for (size_t s = 0; s < dp->nsynonyms + 2; s++) {
        char idtext[160];
        const char *text;
        if (s == 0) {
            snprintf(idtext, sizeof(idtext), "%s", dp->id);
            text = idtext;
        } else if (s == 1) {
            text = dp->name;
        } else {
            text = dp->synonyms[s - 2];
        }
        struct phrase p;
        if (!text || phrase_of(text, &p) != 0)
            continue;
        for (size_t i = 0; i < tk->n; i++)
            if (p.n > b.score && phrase_at(tk, i, &p)) {
                b.score = p.n;
                b.at = i;
                b.p = p;
            }
    }
    return b;
}

static void apply_range(struct mx_match *m, const struct q_range *r, const char *phrase)
{
    const struct dc_datapoint_info *dp = m->dp;
    for (size_t i = 0; i < dp->nparams; i++) {
        const struct dc_dp_param *p = dp->params[i];
        int role = mx_date_role(p);
        long day;
        if (role == MX_ROLE_START && r->has_from)
            day = r->from;
        else if (role == MX_ROLE_END && r->has_to)
            day = r->to;
        else if (role == MX_ROLE_END_INCL && r->has_to)
            day = r->to - 1;
        else
            continue;
        char d[11], text[32];
        q_format_day(day, d);
        if (strcmp(p->type, "timestamp") == 0)
            snprintf(text, sizeof(text), "%s 00:00:00", d);
        else
            snprintf(text, sizeof(text), "%s", d);
        set_value(m, p, text, phrase);
    }
}

static int has_date_params(const struct dc_datapoint_info *dp)
{
    for (size_t i = 0; i < dp->nparams; i++)
        if (mx_date_role(dp->params[i]))
            return 1;
    return 0;
}

/* Finds the longest allowed value of any unset enum-like parameter (other
 * than skip) at token i; the default is not a value a question selects. */
static size_t value_at(const struct toks *tk, size_t i, const struct dc_datapoint_info *dp,
                       const struct mx_match *m, const struct dc_dp_param *skip, int breakdown,
                       const struct dc_dp_param **pp, const char **pv)
{
    size_t best = 0;
    for (size_t k = 0; k < dp->nparams; k++) {
        const struct dc_dp_param *p = dp->params[k];
        if (p == skip || !is_enumish(p) || is_set(m, p) || (!breakdown && is_breakdown(p)))
            continue;
        for (size_t v = 0; v < p->nvalues; v++) {
            const char *val = p->values[v];
            if (!val || (p->default_value && strcmp(val, p->default_value) == 0))
                continue;
            /* identifier "table.column": the column is what people say */
            const char *said = val;
            if (strcmp(p->type, "identifier") == 0 && strrchr(val, '.'))
                said = strrchr(val, '.') + 1;
            struct phrase ph;
            if (phrase_of(said, &ph) != 0)
                continue;
            if (ph.n > best && phrase_at(tk, i, &ph)) {
                best = ph.n;
                *pp = p;
                *pv = val;
            }
        }
    }
    return best;
}

static void clarify_breakdown(struct mx_match *m, const char *word)
{
    const struct dc_datapoint_info *dp = m->dp;
    char opts[400];
    size_t len = 0;
    opts[0] = '\0';
    for (size_t k = 0; k < dp->nparams && len + 2 < sizeof(opts); k++) {
        const struct dc_dp_param *p = dp->params[k];
        if (!is_enumish(p))
            continue;
        char vals[300];
        list_values(p, vals, sizeof(vals));
        int w = snprintf(opts + len, sizeof(opts) - len, "%s%s is one of %s", len ? "; " : "",
                         p->name, vals);
        if (w < 0)
            break;
        len += (size_t)w < sizeof(opts) - len ? (size_t)w : sizeof(opts) - len - 1;
    }
    m->outcome = MX_CLARIFY;
    m->bad_param = 1;
    if (len)
        snprintf(m->why, sizeof(m->why),
                 "%s cannot be broken down by '%s': %s. Which did you mean?", dp->name, word,
                 opts);
    else
        snprintf(m->why, sizeof(m->why), "%s cannot be broken down by '%s': it has no breakdown "
                 "parameters.", dp->name, word);
}

/* Returns 1 when the metric is known but the rest of the question asks for
 * what its parameters do not offer (a clarify about this metric alone). */
static int extract(const char *q, size_t qlen, long today,
                   const struct dc_datapoint_info *const *dps, size_t ndps, const char *db,
                   const struct mx_schema_words *sw, struct mx_match *out)
{
    struct toks tkbuf;
    struct toks *tk = &tkbuf;
    memset(out, 0, sizeof(*out));
    out->outcome = MX_NO_MATCH;
    if (!q || tokenize(q, qlen, tk) != 0) {
        snprintf(out->why, sizeof(out->why), "the question is too long to match a metric");
        return 0;
    }

    /* 1. The metric: the longest phrase wins; equal best phrases of
     * different metrics are a question to ask back. */
    size_t best = 0, at = 0;
    struct phrase winner;
    memset(&winner, 0, sizeof(winner));
    for (size_t i = 0; i < ndps; i++) {
        if (!is_metric(dps[i], db))
            continue;
        struct best b = match_metric(tk, dps[i]);
        if (b.score == 0 || b.score < best)
            continue;
        if (b.score > best) {
            best = b.score;
            at = b.at;
            winner = b.p;
            out->nchoices = 0;
        }
        if (out->nchoices < MX_MAX_CHOICES)
            out->choices[out->nchoices++] = dps[i];
    }
    if (best == 0) {
        snprintf(out->why, sizeof(out->why), "no metric DataPoint is named in the question");
        return 0;
    }
    if (out->nchoices > 1) {
        out->outcome = MX_CLARIFY;
        size_t len = (size_t)snprintf(out->why, sizeof(out->why),
                                      "Several metrics match that question: ");
        for (size_t i = 0; i < out->nchoices && len + 2 < sizeof(out->why); i++) {
            int w = snprintf(out->why + len, sizeof(out->why) - len, "%s%s (%s)",
                             i ? (i + 1 == out->nchoices ? " or " : ", ") : "",
                             out->choices[i]->name ? out->choices[i]->name : out->choices[i]->id,
                             out->choices[i]->id);
            if (w < 0)
                break;
            len += (size_t)w;
        }
        if (len + 2 < sizeof(out->why))
            snprintf(out->why + len, sizeof(out->why) - len, ". Which one did you mean?");
        return 0;
    }
    out->dp = out->choices[0];
    out->nchoices = 0;
    span_text(tk, at, best, out->phrase, sizeof(out->phrase));
    shadowed_names(&winner, sw, out->shadowed, sizeof(out->shadowed));
    mark(tk, at, best);
    const struct dc_datapoint_info *dp = out->dp;
    /* Another metric named elsewhere in the question ("revenue or order
     * count") is a question to ask back, whatever the phrase lengths. */
    for (size_t i = 0; i < ndps; i++) {
        if (dps[i] == dp || !is_metric(dps[i], db) || match_metric(tk, dps[i]).score == 0)
            continue;
        out->outcome = MX_CLARIFY;
        snprintf(out->why, sizeof(out->why),
                 "The question names two metrics, %s (%s) and %s (%s); ask for one at a time.",
                 dp->name ? dp->name : dp->id, dp->id, dps[i]->name ? dps[i]->name : dps[i]->id,
                 dps[i]->id);
        return 0;
    }

    /* 2. Time ranges, through the compiler's phrase parser. */
    struct dph_word words[MX_MAX_TOKENS];
    for (size_t i = 0; i < tk->n; i++) {
        words[i].low = tk->t[i].low;
        words[i].is_num = tk->t[i].is_num;
        words[i].num_int = tk->t[i].num_int;
        words[i].num = tk->t[i].num;
    }
    int ranges = 0;
    for (size_t i = 0; i < tk->n; i++) {
        if (tk->t[i].used)
            continue;
        struct q_range r;
        size_t n = dph_date_expr(words, tk->n, i, today, &r);
        if (n == 0)
            continue;
        size_t k;
        for (k = i; k < i + n && !tk->t[k].used; k++)
            ;
        if (k < i + n)
            continue;
        char phrase[96];
        span_text(tk, i, n, phrase, sizeof(phrase));
        if (++ranges > 1) {
            out->outcome = MX_CLARIFY;
            out->bad_param = 1;
            snprintf(out->why, sizeof(out->why),
                     "The question names two time ranges (the second is '%s'); ask for %s over "
                     "one range.", phrase, dp->name);
            return 1;
        }
        if (!has_date_params(dp)) {
            out->outcome = MX_CLARIFY;
            out->bad_param = 1;
            snprintf(out->why, sizeof(out->why),
                     "%s has no date parameters, so it cannot be limited to '%s'.", dp->name,
                     phrase);
            return 1;
        }
        apply_range(out, &r, phrase);
        mark(tk, i, n);
        i += n - 1;
    }

    /* 3. Granularity and breakdowns: "monthly", "by month", "per week",
     * "by region", "for each channel". */
    const struct dc_dp_param *grain = grain_param(dp);
    for (size_t i = 0; i < tk->n; i++) {
        if (tk->t[i].used)
            continue;
        const char *w = tk->t[i].low;
        int unit = adverb_unit(w);
        size_t lead = 0;
        if (!unit) {
            if (strcmp(w, "by") == 0 || strcmp(w, "per") == 0 || strcmp(w, "each") == 0 ||
                strcmp(w, "every") == 0)
                lead = 1;
            else if (strcmp(w, "for") == 0 && i + 1 < tk->n &&
                     strcmp(tk->t[i + 1].low, "each") == 0)
                lead = 2;
            else if (strcmp(w, "broken") == 0 && i + 2 < tk->n &&
                     strcmp(tk->t[i + 1].low, "down") == 0 && strcmp(tk->t[i + 2].low, "by") == 0)
                lead = 3;
            if (!lead || i + lead >= tk->n || tk->t[i + lead].used)
                continue;
            unit = dph_unit_word(tk->t[i + lead].low);
        }
        char phrase[96];
        if (unit) {
            span_text(tk, i, lead + 1, phrase, sizeof(phrase));
            const char *v = grain ? unit_value(grain, unit) : NULL;
            if (!v) {
                clarify_breakdown(out, unit_names[unit]);
                return 1;
            }
            set_value(out, grain, v, phrase);
            mark(tk, i, lead + 1);
            i += lead;
            continue;
        }
        const struct dc_dp_param *p = NULL;
        const char *v = NULL;
        size_t n = value_at(tk, i + lead, dp, out, grain, 1, &p, &v);
        if (n == 0) {
            char word[64];
            span_text(tk, i + lead, 1, word, sizeof(word));
            clarify_breakdown(out, word);
            return 1;
        }
        span_text(tk, i, lead + n, phrase, sizeof(phrase));
        set_value(out, p, v, phrase);
        mark(tk, i, lead + n);
        i += lead + n - 1;
    }

    /* 4. Filters: an allowed value named anywhere else ("in Europe", "web
     * orders", "for the mobile channel"). */
    for (size_t i = 0; i < tk->n; i++) {
        if (tk->t[i].used)
            continue;
        const struct dc_dp_param *p = NULL;
        const char *v = NULL;
        size_t n = value_at(tk, i, dp, out, NULL, 0, &p, &v);
        if (n == 0)
            continue;
        char phrase[96];
        span_text(tk, i, n, phrase, sizeof(phrase));
        set_value(out, p, v, phrase);
        mark(tk, i, n);
        i += n - 1;
    }

    /* 5. Every other word must be filler or name a parameter ("channel" in
     * "for the web channel"); anything else means the question asks more
     * than this metric answers, and the compiler gets to try. */
    char unknown[200];
    size_t ulen = 0, nunknown = 0;
    unknown[0] = '\0';
    for (size_t i = 0; i < tk->n; i++) {
        const struct tok *t = &tk->t[i];
        if (t->used || word_in(t->low, filler))
            continue;
        int named = 0;
        for (size_t k = 0; k < dp->nparams && !named; k++) {
            struct phrase ph;
            named = phrase_of(dp->params[k]->name, &ph) == 0 && ph.n == 1 &&
                    strcmp(ph.w[0], t->stem) == 0;
        }
        if (named)
            continue;
        nunknown++;
        if (ulen + 2 < sizeof(unknown)) {
            int w = snprintf(unknown + ulen, sizeof(unknown) - ulen, "%s'%.40s'",
                             ulen ? ", " : "", t->low);
            if (w > 0)
                ulen += (size_t)w < sizeof(unknown) - ulen ? (size_t)w : sizeof(unknown) - ulen - 1;
        }
    }
    if (nunknown) {
        out->outcome = MX_NO_MATCH;
        snprintf(out->why, sizeof(out->why), "%s matched, but %s %s not a parameter of it",
                 dp->id, unknown, nunknown == 1 ? "is" : "are");
        return 0;
    }
    out->outcome = MX_OK;
    return 0;
}

int mx_extract(const char *q, size_t qlen, long today, const struct dc_datapoint_info *const *dps,
               size_t ndps, const char *db, const struct mx_schema_words *sw,
               struct mx_match *out)
{
    int rest = extract(q, qlen, today, dps, ndps, db, sw, out);
    /* The metric takes its phrase over the catalog's names only when it can
     * answer the question. When the rest asks for what its parameters do
     * not offer ("number of orders per shipping country") and the catalog
     * has every word of the phrase, the literal reading gets its chance
     * instead of a question back about the metric. */
    if (rest && out->outcome == MX_CLARIFY && out->dp && out->shadowed[0]) {
        char why[sizeof(out->why)];
        snprintf(why, sizeof(why), "%.60s matched '%.60s' but cannot answer the rest (%.300s); "
                 "the catalog names %.150s may", out->dp->id, out->phrase, out->why,
                 out->shadowed);
        memcpy(out->why, why, sizeof(why));
        out->outcome = MX_NO_MATCH;
        out->bad_param = 0;
    }
    return 0;
}
