/*
 * lexicon - the words a schema answers to, for the deterministic compiler.
 * It owns a copy of the catalog reduced to what question matching needs:
 * tables and columns split into stemmed words (snake_case and CamelCase),
 * column roles guessed from declared types and names (numeric, text, date,
 * boolean, key, money-like, technical), the FK graph, and the extra words
 * other sources add (DataPoint synonyms, profiled values). It is pure: no
 * host, no I/O. It never decides what a question means; the planner does.
 */
#ifndef DC_COMPILER_LEXICON_H
#define DC_COMPILER_LEXICON_H

#include <stddef.h>

#include <datachat/host.h>

#define LEX_MAX_WORDS 8
#define LEX_WORD_MAX 48

struct lex_words {
    size_t n;
    char w[LEX_MAX_WORDS][LEX_WORD_MAX];
};

enum lex_col_flag {
    LEX_NUMERIC = 1,
    LEX_TEXT = 2,
    LEX_DATE = 4,
    LEX_BOOL = 8,
    LEX_KEY = 16,    /* primary key, foreign key or a name ending in "id" */
    LEX_MONEY = 32,  /* amount, total, price, cost, fee ... */
    LEX_TECH = 64,   /* bookkeeping such as last_update: never an implied column */
    LEX_PROBE = 128, /* a text column worth probing for a value */
    LEX_AGGWORD = 256 /* the name starts with total/sum: "total amount" reads as SUM */
};

struct lex_column {
    char *name;
    int flags;
    struct lex_words words;
};

struct lex_table {
    char *name;
    int is_view;
    struct lex_words words;
    size_t ncols;
    struct lex_column *cols;
    int pk;        /* the single-column primary key, -1 if none or composite */
    int label[2];  /* columns that name a row (name, title, first+last name) */
    int nlabel;
};

/* One declared foreign key, from a child column to a parent column. */
struct lex_edge {
    int from_t, from_c;
    int to_t, to_c;
};

/* A phrase (from a DataPoint) standing for a table or a column. */
struct lex_synonym {
    struct lex_words words;
    int table;
    int column; /* -1: the phrase names the table */
};

/* A known value of a column (profiled top values). */
struct lex_value {
    int table, column;
    char *value;
};

struct lexicon {
    struct lex_table *tables;
    size_t ntables;
    struct lex_edge *edges;
    size_t nedges;
    struct lex_synonym *syns;
    size_t nsyns, capsyns;
    struct lex_value *vals;
    size_t nvals, capvals;
};

/* Builds the lexicon from catalog tables (views are kept but never joined).
 * Returns DC_OK or DC_ENOMEM. */
int lex_build(const struct dc_table_info *const *tables, size_t n, struct lexicon **out);
void lex_free(struct lexicon *lx);

/* Extra words; table/column are names (case-insensitive), column may be
 * NULL. DC_ENOTFOUND when they are not in the lexicon. */
int lex_add_synonym(struct lexicon *lx, const char *phrase, const char *table,
                    const char *column);
int lex_add_value(struct lexicon *lx, const char *table, const char *column,
                  const char *value);

/* Table / column index by name (case-insensitive), -1 if absent. */
int lex_find_table(const struct lexicon *lx, const char *name);
int lex_find_column(const struct lexicon *lx, int table, const char *name);

/* The stem of one lowercase word: plural, -ing, -ed and a final e removed,
 * so that "categories"/"category", "priced"/"price", "shipped"/"shipping"
 * meet. out gets at most cap-1 bytes. */
void lex_stem(const char *word, size_t n, char *out, size_t cap);
/* Splits an identifier (snake_case, CamelCase, digits) into stemmed words. */
void lex_split_ident(const char *ident, struct lex_words *out);
/* 1 when a and b differ by at most one insertion, deletion, substitution or
 * swap of two neighbours. */
int lex_edit1(const char *a, const char *b);

#endif
