#include "demo_gen.h"
#include "demo_data.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    T_REGIONS, T_CATEGORIES, T_CUSTOMERS, T_PRODUCTS,
    T_ORDERS, T_ORDER_ITEMS, T_PAYMENTS, T_TRANSACTIONS
};

static const char *const table_names[DEMO_TABLE_COUNT] = {
    "regions", "categories", "customers", "products",
    "orders", "order_items", "payments", "transactions",
};

/* Sizes at scale 1. Orders spread over HISTORY_DAYS ending at the end date;
 * a share of customers signed up in the year before the window so the first
 * days have a customer base to sell to. */
#define BASE_CUSTOMERS 20000.0
#define BASE_PRODUCTS 800.0
#define BASE_ORDERS 60000.0
#define HISTORY_DAYS 1096
#define PRE_WINDOW_SIGNUP_SHARE 0.15
#define GROWTH_LOG 0.9555 /* ln 2.6: daily volume grows 2.6x over the window */
#define MAX_ITEMS 8
#define DAY_SECONDS 86400

enum { SEG_CONSUMER, SEG_SMALL_BUSINESS, SEG_ENTERPRISE };
static const char *const segment_names[] = {"consumer", "small business", "enterprise"};

enum { CH_WEB, CH_MOBILE, CH_STORE, CH_PHONE };
static const char *const channel_names[] = {"web", "mobile", "store", "phone"};

enum { S_PENDING, S_PAID, S_SHIPPED, S_DELIVERED, S_CANCELLED, S_REFUNDED };
static const char *const status_names[] = {
    "pending", "paid", "shipped", "delivered", "cancelled", "refunded",
};

enum { PM_CARD, PM_PAYPAL, PM_BANK, PM_GIFT };
static const char *const method_names[] = {"card", "paypal", "bank_transfer", "gift_card"};

enum { PS_CAPTURED, PS_FAILED, PS_REFUNDED };
static const char *const pay_status_names[] = {"captured", "failed", "refunded"};

enum { TS_COMPLETED, TS_PENDING, TS_FAILED, TS_REVERSED };
static const char *const txn_status_names[] = {"completed", "pending", "failed", "reversed"};

enum { TT_PURCHASE, TT_REFUND, TT_CHARGEBACK, TT_ADJUSTMENT, TT_FEE };
static const char *const txn_type_names[] = {"purchase", "refund", "chargeback", "adjustment", "fee"};

static const char schema_sql[] =
    "CREATE TABLE regions (\n"
    "  region_id INTEGER PRIMARY KEY NOT NULL,\n"
    "  name TEXT NOT NULL UNIQUE\n"
    ");\n"
    "CREATE TABLE customers (\n"
    "  customer_id INTEGER PRIMARY KEY NOT NULL,\n"
    "  first_name TEXT NOT NULL,\n"
    "  last_name TEXT NOT NULL,\n"
    "  email TEXT NOT NULL UNIQUE,\n"
    "  country TEXT NOT NULL,\n"
    "  city TEXT NOT NULL,\n"
    "  region_id INTEGER NOT NULL REFERENCES regions(region_id),\n"
    "  segment TEXT NOT NULL CHECK (segment IN ('consumer', 'small business', 'enterprise')),\n"
    "  signup_date DATE NOT NULL CHECK (signup_date = date(signup_date)),\n"
    "  is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1))\n"
    ");\n"
    "CREATE TABLE categories (\n"
    "  category_id INTEGER PRIMARY KEY NOT NULL,\n"
    "  name TEXT NOT NULL UNIQUE,\n"
    "  parent_category_id INTEGER REFERENCES categories(category_id)\n"
    ");\n"
    "CREATE TABLE products (\n"
    "  product_id INTEGER PRIMARY KEY NOT NULL,\n"
    "  sku TEXT NOT NULL UNIQUE,\n"
    "  name TEXT NOT NULL,\n"
    "  category_id INTEGER NOT NULL REFERENCES categories(category_id),\n"
    "  unit_price REAL NOT NULL CHECK (unit_price > 0),\n"
    "  unit_cost REAL NOT NULL CHECK (unit_cost > 0 AND unit_cost <= unit_price),\n"
    "  is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),\n"
    "  launched_on DATE NOT NULL CHECK (launched_on = date(launched_on))\n"
    ");\n"
    "CREATE TABLE orders (\n"
    "  order_id INTEGER PRIMARY KEY NOT NULL,\n"
    "  customer_id INTEGER NOT NULL REFERENCES customers(customer_id),\n"
    "  order_date TIMESTAMP NOT NULL CHECK (order_date = datetime(order_date)),\n"
    "  status TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded')),\n"
    "  channel TEXT NOT NULL CHECK (channel IN ('web', 'mobile', 'store', 'phone')),\n"
    "  shipping_country TEXT NOT NULL,\n"
    "  total_amount REAL NOT NULL CHECK (total_amount >= 0)\n"
    ");\n"
    "CREATE TABLE order_items (\n"
    "  order_item_id INTEGER PRIMARY KEY NOT NULL,\n"
    "  order_id INTEGER NOT NULL REFERENCES orders(order_id),\n"
    "  product_id INTEGER NOT NULL REFERENCES products(product_id),\n"
    "  quantity INTEGER NOT NULL CHECK (quantity > 0),\n"
    "  unit_price REAL NOT NULL CHECK (unit_price > 0),\n"
    "  discount REAL NOT NULL DEFAULT 0 CHECK (discount >= 0 AND discount < 1)\n"
    ");\n"
    "CREATE TABLE payments (\n"
    "  payment_id INTEGER PRIMARY KEY NOT NULL,\n"
    "  order_id INTEGER NOT NULL REFERENCES orders(order_id),\n"
    "  amount REAL NOT NULL CHECK (amount >= 0),\n"
    "  method TEXT NOT NULL CHECK (method IN ('card', 'paypal', 'bank_transfer', 'gift_card')),\n"
    "  status TEXT NOT NULL CHECK (status IN ('captured', 'failed', 'refunded')),\n"
    "  paid_at TIMESTAMP NOT NULL CHECK (paid_at = datetime(paid_at))\n"
    ");\n"
    "CREATE TABLE transactions (\n"
    "  transaction_id INTEGER PRIMARY KEY NOT NULL,\n"
    "  customer_id INTEGER NOT NULL REFERENCES customers(customer_id),\n"
    "  order_id INTEGER REFERENCES orders(order_id),\n"
    "  amount REAL NOT NULL,\n"
    "  currency TEXT NOT NULL DEFAULT 'USD' CHECK (length(currency) = 3),\n"
    "  status TEXT NOT NULL CHECK (status IN ('completed', 'pending', 'failed', 'reversed')),\n"
    "  transaction_type TEXT NOT NULL CHECK (transaction_type IN ('purchase', 'refund', 'chargeback', 'adjustment', 'fee')),\n"
    "  created_at TIMESTAMP NOT NULL CHECK (created_at = datetime(created_at)),\n"
    "  CHECK (CASE transaction_type WHEN 'refund' THEN amount < 0 WHEN 'chargeback' THEN amount < 0\n"
    "         WHEN 'adjustment' THEN amount <> 0 ELSE amount > 0 END)\n"
    ");\n";

static const char index_sql[] =
    "CREATE INDEX customers_region_idx ON customers(region_id);\n"
    "CREATE INDEX customers_country_idx ON customers(country);\n"
    "CREATE INDEX customers_signup_idx ON customers(signup_date);\n"
    "CREATE INDEX categories_parent_idx ON categories(parent_category_id);\n"
    "CREATE INDEX products_category_idx ON products(category_id);\n"
    "CREATE INDEX orders_customer_idx ON orders(customer_id);\n"
    "CREATE INDEX orders_date_idx ON orders(order_date);\n"
    "CREATE INDEX orders_status_idx ON orders(status);\n"
    "CREATE INDEX order_items_order_idx ON order_items(order_id);\n"
    "CREATE INDEX order_items_product_idx ON order_items(product_id);\n"
    "CREATE INDEX payments_order_idx ON payments(order_id);\n"
    "CREATE INDEX payments_paid_at_idx ON payments(paid_at);\n"
    "CREATE INDEX transactions_customer_idx ON transactions(customer_id);\n"
    "CREATE INDEX transactions_order_idx ON transactions(order_id);\n"
    "CREATE INDEX transactions_created_idx ON transactions(created_at);\n";

static const char *const insert_sql[DEMO_TABLE_COUNT] = {
    "INSERT INTO regions VALUES (?1, ?2)",
    "INSERT INTO categories VALUES (?1, ?2, ?3)",
    "INSERT INTO customers VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    "INSERT INTO products VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    "INSERT INTO orders VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    "INSERT INTO order_items VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    "INSERT INTO payments VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    "INSERT INTO transactions VALUES (?1, ?2, ?3, ?4, 'USD', ?5, ?6, ?7)",
};

/* Customers who placed no order in the last year (and are not new) churned. */
static const char deactivate_sql[] =
    "UPDATE customers SET is_active = 0 WHERE signup_date < date(?1, '-180 days') "
    "AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = customers.customer_id "
    "AND o.order_date >= date(?1, '-365 days'))";

struct rng {
    uint64_t s[4];
};

struct customer {
    int signup_day;
    int country;
    int segment;
    int orders;
    double weight; /* how often this customer buys, relative to others */
};

struct product {
    int sub;         /* index into demo_subcategories */
    int launch_day;
    int active;
    int64_t price_cents;
};

struct day_order {
    int secs;    /* seconds after midnight */
    int channel;
    int seq;     /* draw order, to break ties deterministically */
};

struct item {
    int product;
    int qty;
    int pct; /* discount in percent */
};

struct gen {
    sqlite3 *db;
    sqlite3_stmt *ins[DEMO_TABLE_COUNT];
    int64_t rows[DEMO_TABLE_COUNT];
    struct rng rng;
    int start_day;
    int end_day;
    int64_t end_ts;
    struct customer *cust;
    size_t ncust;
    double *cust_cum;
    struct product *prod;
    size_t nprod;
    double *prod_cum[12]; /* popularity per calendar month (seasonal) */
    double *country_cum;
    size_t norders;
    int64_t next_item;
    int64_t next_payment;
    int64_t next_txn;
    char *err;
    size_t errlen;
};

/* ---- randomness: splitmix64 seeds xoshiro256** ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static double rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n); n > 0. */
static int rng_below(struct rng *r, int n)
{
    return (int)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static int rng_between(struct rng *r, int lo, int hi)
{
    return lo + rng_below(r, hi - lo + 1);
}

static int rng_chance(struct rng *r, double p)
{
    return rng_unit(r) < p;
}

static double rng_normal(struct rng *r)
{
    double u1 = 1.0 - rng_unit(r); /* (0, 1]: log stays finite */
    double u2 = rng_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Index of the first cumulative weight above a uniform draw in [0, cum[n-1]). */
static size_t rng_pick_cum(struct rng *r, const double *cum, size_t n)
{
    double u = rng_unit(r) * cum[n - 1];
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cum[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Index into a small weight table by linear scan. */
static int rng_pick_weights(struct rng *r, const double *w, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += w[i];
    double u = rng_unit(r) * sum;
    for (int i = 0; i < n; i++) {
        if (u < w[i])
            return i;
        u -= w[i];
    }
    return n - 1;
}

/* ---- calendar (proleptic Gregorian, days since 1970-01-01) ---- */

static int days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int z, int *y, int *m, int *d)
{
    z += 719468;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    int doe = z - era * 146097;
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

static int weekday(int day) /* 0 = Sunday */
{
    return ((day + 4) % 7 + 7) % 7;
}

int demo_parse_date(const char *s, int *day)
{
    int y, m, d;
    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7)
            continue;
        if (s[i] < '0' || s[i] > '9')
            return -1;
    }
    y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    m = (s[5] - '0') * 10 + (s[6] - '0');
    d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 2000 || y > 2199 || m < 1 || m > 12 || d < 1)
        return -1;
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    int max = mdays[m - 1] + (m == 2 && leap);
    if (d > max)
        return -1;
    *day = days_from_civil(y, m, d);
    return 0;
}

void demo_format_date(int day, char out[11])
{
    int y, m, d;
    civil_from_days(day, &y, &m, &d);
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u, (unsigned)d % 100u);
}

static void format_ts(int64_t ts, char out[20])
{
    int day = (int)(ts / DAY_SECONDS);
    unsigned secs = (unsigned)(ts % DAY_SECONDS);
    char date[11];
    demo_format_date(day, date);
    snprintf(out, 20, "%.10s %02u:%02u:%02u", date, secs / 3600 % 24u, secs / 60 % 60, secs % 60);
}

/* Day after the fourth Thursday of November. */
static int black_friday(int year)
{
    int nov1 = days_from_civil(year, 11, 1);
    int first_thu = 1 + (4 - weekday(nov1) + 7) % 7;
    return nov1 + (first_thu - 1) + 21 + 1;
}

/* ---- errors and statements ---- */

static int fail(struct gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct gen *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->err, g->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int exec_sql(struct gen *g, const char *sql, const char *what)
{
    char *msg = NULL;
    if (sqlite3_exec(g->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fail(g, "%s: %s", what, msg ? msg : sqlite3_errmsg(g->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Runs a bound insert statement of table t and makes it reusable. */
static int insert_row(struct gen *g, int t, int bind_rc)
{
    sqlite3_stmt *s = g->ins[t];
    if (bind_rc != SQLITE_OK) {
        sqlite3_reset(s);
        return fail(g, "binding a row of %s: %s", table_names[t], sqlite3_errmsg(g->db));
    }
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
        fail(g, "inserting into %s: %s", table_names[t], sqlite3_errmsg(g->db));
        sqlite3_reset(s);
        return -1;
    }
    sqlite3_reset(s);
    g->rows[t]++;
    return 0;
}

static int bind_text(sqlite3_stmt *s, int i, const char *v)
{
    return sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

static int bind_money(sqlite3_stmt *s, int i, int64_t cents)
{
    return sqlite3_bind_double(s, i, (double)cents / 100.0);
}

/* ---- reference tables ---- */

static int gen_regions(struct gen *g)
{
    sqlite3_stmt *s = g->ins[T_REGIONS];
    for (size_t i = 0; i < demo_region_count; i++) {
        int rc = sqlite3_bind_int64(s, 1, (int64_t)i + 1);
        rc |= bind_text(s, 2, demo_regions[i]);
        if (insert_row(g, T_REGIONS, rc) != 0)
            return -1;
    }
    return 0;
}

/* Top-level categories take ids 1..N, subcategories follow in list order. */
static int gen_categories(struct gen *g)
{
    sqlite3_stmt *s = g->ins[T_CATEGORIES];
    for (size_t i = 0; i < demo_top_category_count; i++) {
        int rc = sqlite3_bind_int64(s, 1, (int64_t)i + 1);
        rc |= bind_text(s, 2, demo_top_categories[i].name);
        rc |= sqlite3_bind_null(s, 3);
        if (insert_row(g, T_CATEGORIES, rc) != 0)
            return -1;
    }
    for (size_t i = 0; i < demo_subcategory_count; i++) {
        int rc = sqlite3_bind_int64(s, 1, (int64_t)(demo_top_category_count + i + 1));
        rc |= bind_text(s, 2, demo_subcategories[i].name);
        rc |= sqlite3_bind_int64(s, 3, demo_subcategories[i].top + 1);
        if (insert_row(g, T_CATEGORIES, rc) != 0)
            return -1;
    }
    return 0;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int count_cities(const struct demo_country *c)
{
    int n = 0;
    while (n < DEMO_MAX_CITIES && c->cities[n] != NULL)
        n++;
    return n;
}

/* Lowercase letters of a name, dropping apostrophes, spaces and hyphens. */
static void email_part(const char *name, char *out, size_t outlen)
{
    size_t j = 0;
    for (size_t i = 0; name[i] != '\0' && j + 1 < outlen; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z')
            out[j++] = (char)(c - 'A' + 'a');
        else if (c >= 'a' && c <= 'z')
            out[j++] = c;
    }
    out[j] = '\0';
}

/* Customer ids follow signup order, so a customer's id says how long they
 * have been around; that is what lets orders pick among "customers who
 * existed on that day" as a prefix of the array. */
static int gen_customers(struct gen *g)
{
    struct rng *r = &g->rng;
    int span = g->end_day - g->start_day + 1;
    int *days = malloc(g->ncust * sizeof *days);
    if (days == NULL)
        return fail(g, "out of memory for %zu customers", g->ncust);
    for (size_t i = 0; i < g->ncust; i++) {
        if (rng_chance(r, PRE_WINDOW_SIGNUP_SHARE)) {
            days[i] = g->start_day - 1 - rng_below(r, 365);
        } else {
            /* signups grow like orders: density proportional to exp(a t) */
            double u = rng_unit(r);
            double t = log(1.0 + u * (exp(GROWTH_LOG) - 1.0)) / GROWTH_LOG;
            int d = g->start_day + (int)(t * span);
            days[i] = d > g->end_day ? g->end_day : d;
        }
    }
    qsort(days, g->ncust, sizeof *days, cmp_int);

    sqlite3_stmt *s = g->ins[T_CUSTOMERS];
    double cum = 0;
    for (size_t i = 0; i < g->ncust; i++) {
        struct customer *c = &g->cust[i];
        c->signup_day = days[i];
        c->country = (int)rng_pick_cum(r, g->country_cum, demo_country_count);
        double seg = rng_unit(r);
        c->segment = seg < 0.80 ? SEG_CONSUMER : seg < 0.95 ? SEG_SMALL_BUSINESS : SEG_ENTERPRISE;
        c->weight = exp(0.9 * rng_normal(r));
        cum += c->weight;
        g->cust_cum[i] = cum;

        const struct demo_country *co = &demo_countries[c->country];
        const char *first = demo_first_names[rng_below(r, (int)demo_first_name_count)];
        const char *last = demo_last_names[rng_below(r, (int)demo_last_name_count)];
        const char *city = co->cities[rng_below(r, count_cities(co))];
        const char *domain = demo_email_domains[rng_below(r, (int)demo_email_domain_count)];
        char f[32], l[32], email[128], signup[11];
        email_part(first, f, sizeof f);
        email_part(last, l, sizeof l);
        /* The id suffix keeps every address unique whatever the names. */
        long long id = (long long)i + 1;
        switch (rng_below(r, 3)) {
        case 0: snprintf(email, sizeof email, "%s.%s%lld@%s", f, l, id, domain); break;
        case 1: snprintf(email, sizeof email, "%s%s%lld@%s", f, l, id, domain); break;
        default: snprintf(email, sizeof email, "%c%s%lld@%s", f[0], l, id, domain); break;
        }
        demo_format_date(c->signup_day, signup);

        int rc = sqlite3_bind_int64(s, 1, id);
        rc |= bind_text(s, 2, first);
        rc |= bind_text(s, 3, last);
        rc |= bind_text(s, 4, email);
        rc |= bind_text(s, 5, co->name);
        rc |= bind_text(s, 6, city);
        rc |= sqlite3_bind_int(s, 7, co->region_id);
        rc |= bind_text(s, 8, segment_names[c->segment]);
        rc |= bind_text(s, 9, signup);
        rc |= sqlite3_bind_int(s, 10, 1);
        if (insert_row(g, T_CUSTOMERS, rc) != 0) {
            free(days);
            return -1;
        }
    }
    free(days);
    return 0;
}

/* Prices end in .99 (or .49 for small items), the way shops price them. */
static int64_t shop_price_cents(double dollars)
{
    if (dollars < 20.0 && dollars - floor(dollars) < 0.5)
        return (int64_t)floor(dollars) * 100 + 49;
    int64_t whole = (int64_t)floor(dollars);
    return whole * 100 + 99;
}

/* How much more (or less) a subcategory sells in a calendar month (1..12). */
static double season_factor(const char *sub, int month)
{
    if (strcmp(sub, "Toys") == 0 || strcmp(sub, "Games & Puzzles") == 0)
        return month == 12 ? 2.5 : month == 11 ? 1.6 : 1.0;
    if (strcmp(sub, "Fragrance") == 0)
        return month == 12 ? 1.8 : month == 2 ? 1.5 : 1.0;
    if (strcmp(sub, "Camping") == 0 || strcmp(sub, "Cycling") == 0)
        return (month >= 5 && month <= 8) ? 1.6 : (month <= 2 || month >= 11) ? 0.6 : 1.0;
    if (strcmp(sub, "Fitness") == 0)
        return month == 1 ? 1.8 : 1.0;
    return 1.0;
}

static int gen_products(struct gen *g)
{
    struct rng *r = &g->rng;
    int span = g->end_day - g->start_day + 1;
    double sub_w[64];
    int nsub = (int)demo_subcategory_count;
    int *rank = malloc(g->nprod * sizeof *rank);
    double *pop = malloc(g->nprod * sizeof *pop);
    int ret = -1;
    if (rank == NULL || pop == NULL) {
        fail(g, "out of memory for %zu products", g->nprod);
        goto cleanup;
    }
    for (int i = 0; i < nsub; i++)
        sub_w[i] = demo_subcategories[i].weight;
    /* Popularity follows a Zipf law over a shuffled rank: a few products
     * sell a lot, most sell a little. */
    for (size_t i = 0; i < g->nprod; i++)
        rank[i] = (int)i;
    for (size_t i = g->nprod - 1; i > 0; i--) {
        int j = rng_below(r, (int)i + 1);
        int t = rank[i];
        rank[i] = rank[j];
        rank[j] = t;
    }

    sqlite3_stmt *s = g->ins[T_PRODUCTS];
    for (size_t i = 0; i < g->nprod; i++) {
        struct product *p = &g->prod[i];
        p->sub = rng_pick_weights(r, sub_w, nsub);
        const struct demo_subcategory *sc = &demo_subcategories[p->sub];
        int nnouns = 0;
        while (nnouns < DEMO_MAX_NOUNS && sc->nouns[nnouns] != NULL)
            nnouns++;
        char name[128], sku[32], launched[11];
        snprintf(name, sizeof name, "%s %s %s",
                 demo_brands[rng_below(r, (int)demo_brand_count)],
                 demo_product_styles[rng_below(r, (int)demo_product_style_count)],
                 sc->nouns[rng_below(r, nnouns)]);
        long long id = (long long)i + 1;
        snprintf(sku, sizeof sku, "%s-%06lld", demo_top_categories[sc->top].sku_prefix, id);
        double dollars = sc->price_lo * exp(rng_unit(r) * log((double)sc->price_hi / sc->price_lo));
        p->price_cents = shop_price_cents(dollars);
        int64_t cost = (int64_t)((double)p->price_cents * (0.38 + 0.32 * rng_unit(r)));
        if (cost < 1)
            cost = 1;
        if (rng_chance(r, 0.7))
            p->launch_day = g->start_day - 1 - rng_below(r, 900);
        else
            p->launch_day = g->start_day + rng_below(r, span - 30);
        p->active = !rng_chance(r, 0.06);
        pop[i] = (0.5 + rng_unit(r)) / pow((double)rank[i] + 10.0, 1.1);
        demo_format_date(p->launch_day, launched);

        int rc = sqlite3_bind_int64(s, 1, id);
        rc |= bind_text(s, 2, sku);
        rc |= bind_text(s, 3, name);
        rc |= sqlite3_bind_int64(s, 4, (int64_t)(demo_top_category_count + (size_t)p->sub + 1));
        rc |= bind_money(s, 5, p->price_cents);
        rc |= bind_money(s, 6, cost);
        rc |= sqlite3_bind_int(s, 7, p->active);
        rc |= bind_text(s, 8, launched);
        if (insert_row(g, T_PRODUCTS, rc) != 0)
            goto cleanup;
    }
    for (int m = 0; m < 12; m++) {
        double cum = 0;
        for (size_t i = 0; i < g->nprod; i++) {
            cum += pop[i] * season_factor(demo_subcategories[g->prod[i].sub].name, m + 1);
            g->prod_cum[m][i] = cum;
        }
    }
    ret = 0;
cleanup:
    free(rank);
    free(pop);
    return ret;
}

/* ---- orders and money ---- */

static double day_weight(const struct gen *g, int day, double noise)
{
    static const double month_w[12] = {0.85, 0.80, 0.90, 0.92, 0.95, 0.95,
                                       0.93, 0.97, 0.95, 1.00, 1.35, 1.60};
    static const double dow_w[7] = {1.15, 0.90, 0.92, 0.95, 0.98, 1.05, 1.20};
    int y, m, d;
    civil_from_days(day, &y, &m, &d);
    double t = (double)(day - g->start_day) / (HISTORY_DAYS - 1);
    double w = exp(GROWTH_LOG * t) * month_w[m - 1] * dow_w[weekday(day)] * noise;
    int bf = black_friday(y);
    if (day >= bf && day <= bf + 3)
        w *= 2.2; /* Black Friday through Cyber Monday */
    else if (day >= bf - 7 && day < bf)
        w *= 1.3;
    else if (m == 12 && d >= 25)
        w *= 0.7;
    return w;
}

static int is_promo_day(int day)
{
    int y, m, d;
    civil_from_days(day, &y, &m, &d);
    int bf = black_friday(y);
    return (day >= bf - 7 && day <= bf + 3) || (m == 12 && d <= 24);
}

static int pick_channel(struct gen *g, int day, const struct customer *c)
{
    double t = (double)(day - g->start_day) / (HISTORY_DAYS - 1);
    double w[4];
    w[CH_MOBILE] = 0.20 + 0.20 * t; /* mobile grows over the years */
    w[CH_STORE] = 0.12;
    w[CH_PHONE] = c->segment == SEG_ENTERPRISE ? 0.25 : 0.05;
    w[CH_WEB] = 1.0 - w[CH_MOBILE] - w[CH_STORE] - w[CH_PHONE];
    return rng_pick_weights(&g->rng, w, 4);
}

static int pick_order_secs(struct gen *g, int channel)
{
    static const double online[24] = {1.0, 0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.5, 2.5, 3.5, 4.0, 4.2,
                                      4.5, 4.2, 4.0, 3.8, 3.8, 4.0, 4.5, 5.0, 5.0, 4.5, 3.5, 2.0};
    static const double store[24] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 2.0, 3.0, 3.5,
                                     4.0, 4.0, 3.5, 3.5, 4.0, 4.5, 4.5, 3.5, 2.0, 0, 0, 0};
    static const double phone[24] = {0, 0, 0, 0, 0, 0, 0, 0, 2.0, 4.0, 4.5, 4.5,
                                     3.0, 4.0, 4.5, 4.0, 3.5, 2.5, 1.0, 0, 0, 0, 0, 0};
    const double *w = channel == CH_STORE ? store : channel == CH_PHONE ? phone : online;
    int hour = rng_pick_weights(&g->rng, w, 24);
    return hour * 3600 + rng_below(&g->rng, 3600);
}

static int cmp_day_order(const void *a, const void *b)
{
    const struct day_order *x = a, *y = b;
    if (x->secs != y->secs)
        return (x->secs > y->secs) - (x->secs < y->secs);
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static size_t pick_customer(struct gen *g, size_t eligible)
{
    return rng_pick_cum(&g->rng, g->cust_cum, eligible);
}

static int product_sellable(const struct gen *g, int pi, int day, const struct item *items, int n)
{
    const struct product *p = &g->prod[pi];
    if (p->launch_day > day)
        return 0;
    if (!p->active && day > g->end_day - 180)
        return 0; /* discontinued products stopped selling half a year ago */
    for (int i = 0; i < n; i++)
        if (items[i].product == pi)
            return 0;
    return 1;
}

static int pick_product(struct gen *g, int day, int month, const struct item *items, int n)
{
    for (int tries = 0; tries < 16; tries++) {
        int pi = (int)rng_pick_cum(&g->rng, g->prod_cum[month - 1], g->nprod);
        if (product_sellable(g, pi, day, items, n))
            return pi;
    }
    int start = rng_below(&g->rng, (int)g->nprod);
    for (size_t k = 0; k < g->nprod; k++) {
        int pi = (int)((start + (int)k) % (int)g->nprod);
        if (product_sellable(g, pi, day, items, n))
            return pi;
    }
    return -1;
}

static int pick_quantity(struct gen *g, int segment)
{
    double u = rng_unit(&g->rng);
    switch (segment) {
    case SEG_ENTERPRISE: return 1 + (int)(24.0 * u * u);
    case SEG_SMALL_BUSINESS: return 1 + (int)(8.0 * u * u);
    default:
        return u < 0.74 ? 1 : u < 0.92 ? 2 : u < 0.97 ? 3 : rng_between(&g->rng, 4, 6);
    }
}

static int pick_discount(struct gen *g, int day, int qty)
{
    int pct = 0;
    if (is_promo_day(day)) {
        if (rng_chance(&g->rng, 0.45))
            pct = 5 * rng_between(&g->rng, 2, 6);
    } else if (rng_chance(&g->rng, 0.15)) {
        pct = 5 * rng_between(&g->rng, 1, 4);
    }
    if (qty >= 10) { /* volume pricing for business buyers */
        int vol = 5 * rng_between(&g->rng, 2, 4);
        if (vol > pct)
            pct = vol;
    }
    return pct;
}

/* Orders age through their life cycle: the last days still hold pending and
 * in-transit orders; older ones are delivered, cancelled or refunded. */
static int pick_status(struct gen *g, int age, int channel)
{
    double u = rng_unit(&g->rng);
    if (channel == CH_STORE)
        return (age > 2 && u < 0.04) ? S_REFUNDED : S_DELIVERED;
    if (age <= 1)
        return u < 0.35 ? S_PENDING : u < 0.80 ? S_PAID : u < 0.95 ? S_SHIPPED : S_CANCELLED;
    if (age <= 4)
        return u < 0.03 ? S_PENDING : u < 0.15 ? S_PAID : u < 0.70 ? S_SHIPPED
             : u < 0.95 ? S_DELIVERED : S_CANCELLED;
    if (age <= 10)
        return u < 0.15 ? S_SHIPPED : u < 0.92 ? S_DELIVERED : u < 0.97 ? S_CANCELLED : S_REFUNDED;
    return u < 0.89 ? S_DELIVERED : u < 0.945 ? S_CANCELLED : S_REFUNDED;
}

static int pick_method(struct gen *g, int channel, int segment)
{
    double w[4];
    if (channel == CH_STORE) {
        w[PM_CARD] = 0.8; w[PM_PAYPAL] = 0; w[PM_BANK] = 0; w[PM_GIFT] = 0.2;
    } else if (segment == SEG_ENTERPRISE) {
        w[PM_CARD] = 0.45; w[PM_PAYPAL] = 0.05; w[PM_BANK] = 0.50; w[PM_GIFT] = 0;
    } else if (channel == CH_PHONE) {
        w[PM_CARD] = 0.85; w[PM_PAYPAL] = 0; w[PM_BANK] = 0.15; w[PM_GIFT] = 0;
    } else {
        w[PM_CARD] = 0.58; w[PM_PAYPAL] = 0.25; w[PM_BANK] = 0.08; w[PM_GIFT] = 0.09;
    }
    return rng_pick_weights(&g->rng, w, 4);
}

static int64_t clamp_ts(const struct gen *g, int64_t ts)
{
    return ts > g->end_ts ? g->end_ts : ts;
}

static int add_payment(struct gen *g, int64_t order_id, int64_t cents, int method, int status,
                       int64_t ts)
{
    sqlite3_stmt *s = g->ins[T_PAYMENTS];
    char when[20];
    format_ts(ts, when);
    int rc = sqlite3_bind_int64(s, 1, ++g->next_payment);
    rc |= sqlite3_bind_int64(s, 2, order_id);
    rc |= bind_money(s, 3, cents);
    rc |= bind_text(s, 4, method_names[method]);
    rc |= bind_text(s, 5, pay_status_names[status]);
    rc |= bind_text(s, 6, when);
    return insert_row(g, T_PAYMENTS, rc);
}

/* order_id 0 means "not tied to an order" (stored as NULL). */
static int add_txn(struct gen *g, int64_t customer_id, int64_t order_id, int64_t cents,
                   int status, int type, int64_t ts)
{
    sqlite3_stmt *s = g->ins[T_TRANSACTIONS];
    char when[20];
    format_ts(ts, when);
    int rc = sqlite3_bind_int64(s, 1, ++g->next_txn);
    rc |= sqlite3_bind_int64(s, 2, customer_id);
    rc |= order_id > 0 ? sqlite3_bind_int64(s, 3, order_id) : sqlite3_bind_null(s, 3);
    rc |= bind_money(s, 4, cents);
    rc |= bind_text(s, 5, txn_status_names[status]);
    rc |= bind_text(s, 6, txn_type_names[type]);
    rc |= bind_text(s, 7, when);
    return insert_row(g, T_TRANSACTIONS, rc);
}

/* Payments and ledger entries that follow from an order's status: nothing
 * captured for pending orders, one capture for paid and later, a refund
 * (negative) for refunded orders and for cancellations after payment. */
static int gen_money(struct gen *g, int64_t order_id, int64_t cust_id, const struct customer *c,
                     int channel, int status, int64_t order_ts, int64_t total)
{
    struct rng *r = &g->rng;
    int method = pick_method(g, channel, c->segment);
    if (status == S_PENDING) {
        double u = rng_unit(r);
        if (u < 0.25)
            return add_txn(g, cust_id, order_id, total, TS_PENDING, TT_PURCHASE,
                           clamp_ts(g, order_ts + rng_between(r, 5, 300)));
        if (u < 0.40) {
            int64_t ts = clamp_ts(g, order_ts + rng_between(r, 30, 600));
            if (add_payment(g, order_id, total, method, PS_FAILED, ts) != 0)
                return -1;
            return add_txn(g, cust_id, order_id, total, TS_FAILED, TT_PURCHASE, ts);
        }
        return 0;
    }
    if (status == S_CANCELLED && rng_chance(r, 0.65))
        return 0; /* cancelled before anyone paid */

    int64_t ts = order_ts + rng_between(r, 5, 300);
    if (channel != CH_STORE && rng_chance(r, 0.04)) { /* a declined first attempt */
        int failed_method = method == PM_BANK ? PM_CARD : method;
        if (add_payment(g, order_id, total, failed_method, PS_FAILED, clamp_ts(g, ts)) != 0 ||
            add_txn(g, cust_id, order_id, total, TS_FAILED, TT_PURCHASE, clamp_ts(g, ts)) != 0)
            return -1;
        ts += rng_between(r, 60, 1800);
    }
    if (method == PM_BANK) {
        int64_t bank_ts = ts + (int64_t)rng_between(r, 1, 3) * DAY_SECONDS;
        if (bank_ts <= g->end_ts)
            ts = bank_ts;
        else
            method = PM_CARD; /* no time left for a transfer to clear */
    }
    ts = clamp_ts(g, ts);

    int refunded = status == S_REFUNDED || status == S_CANCELLED;
    if (add_payment(g, order_id, total, method, refunded ? PS_REFUNDED : PS_CAPTURED, ts) != 0 ||
        add_txn(g, cust_id, order_id, total, TS_COMPLETED, TT_PURCHASE, ts) != 0)
        return -1;

    if (refunded) {
        int64_t delay = status == S_CANCELLED ? rng_between(r, 600, 2 * DAY_SECONDS)
                                              : (int64_t)rng_between(r, 3, 25) * DAY_SECONDS +
                                                    rng_below(r, DAY_SECONDS);
        int64_t rts = ts + delay;
        int rstatus = TS_COMPLETED;
        if (rts > g->end_ts) {
            rts = g->end_ts;
            rstatus = TS_PENDING;
        }
        return add_txn(g, cust_id, order_id, -total, rstatus, TT_REFUND, rts);
    }
    if (status == S_DELIVERED && channel != CH_STORE && rng_chance(r, 0.004)) {
        int64_t cts = ts + (int64_t)rng_between(r, 20, 60) * DAY_SECONDS + rng_below(r, DAY_SECONDS);
        if (cts <= g->end_ts) /* disputes the merchant won are reversed */
            return add_txn(g, cust_id, order_id, -total,
                           rng_chance(r, 0.3) ? TS_REVERSED : TS_COMPLETED, TT_CHARGEBACK, cts);
    }
    return 0;
}

static int gen_order(struct gen *g, int64_t order_id, int day, const struct day_order *o,
                     size_t ci)
{
    struct rng *r = &g->rng;
    struct customer *c = &g->cust[ci];
    int64_t cust_id = (int64_t)ci + 1;
    int64_t order_ts = (int64_t)day * DAY_SECONDS + o->secs;
    int y, m, d;
    civil_from_days(day, &y, &m, &d);

    struct item items[MAX_ITEMS];
    int n = 0, want = 1;
    while (want < MAX_ITEMS && rng_chance(r, 0.5))
        want++;
    int64_t total = 0;
    for (int k = 0; k < want; k++) {
        int pi = pick_product(g, day, m, items, n);
        if (pi < 0)
            break;
        struct item *it = &items[n++];
        it->product = pi;
        it->qty = pick_quantity(g, c->segment);
        it->pct = pick_discount(g, day, it->qty);
        /* line amount rounded half up to the cent */
        total += ((int64_t)it->qty * g->prod[pi].price_cents * (100 - it->pct) + 50) / 100;
    }
    if (n == 0)
        return fail(g, "no product is on sale on day %d; increase --scale", day);

    int status = pick_status(g, g->end_day - day, o->channel);
    const char *ship = demo_countries[c->country].name;
    if (o->channel != CH_STORE && rng_chance(r, 0.04)) /* gifts sent abroad */
        ship = demo_countries[rng_pick_cum(r, g->country_cum, demo_country_count)].name;
    char when[20];
    format_ts(order_ts, when);

    sqlite3_stmt *s = g->ins[T_ORDERS];
    int rc = sqlite3_bind_int64(s, 1, order_id);
    rc |= sqlite3_bind_int64(s, 2, cust_id);
    rc |= bind_text(s, 3, when);
    rc |= bind_text(s, 4, status_names[status]);
    rc |= bind_text(s, 5, channel_names[o->channel]);
    rc |= bind_text(s, 6, ship);
    rc |= bind_money(s, 7, total);
    if (insert_row(g, T_ORDERS, rc) != 0)
        return -1;

    s = g->ins[T_ORDER_ITEMS];
    for (int k = 0; k < n; k++) {
        rc = sqlite3_bind_int64(s, 1, ++g->next_item);
        rc |= sqlite3_bind_int64(s, 2, order_id);
        rc |= sqlite3_bind_int64(s, 3, (int64_t)items[k].product + 1);
        rc |= sqlite3_bind_int(s, 4, items[k].qty);
        rc |= bind_money(s, 5, g->prod[items[k].product].price_cents);
        rc |= sqlite3_bind_double(s, 6, items[k].pct / 100.0);
        if (insert_row(g, T_ORDER_ITEMS, rc) != 0)
            return -1;
    }
    c->orders++;
    return gen_money(g, order_id, cust_id, c, o->channel, status, order_ts, total);
}

static int gen_orders(struct gen *g)
{
    struct rng *r = &g->rng;
    int span = g->end_day - g->start_day + 1;
    double *w = malloc((size_t)span * sizeof *w);
    struct day_order *day_orders = NULL;
    size_t *buyers = NULL;
    size_t cap = 0;
    int ret = -1;
    if (w == NULL) {
        fail(g, "out of memory for %d days", span);
        goto cleanup;
    }
    double sum = 0;
    for (int i = 0; i < span; i++) {
        w[i] = day_weight(g, g->start_day + i, 0.85 + 0.3 * rng_unit(r));
        sum += w[i];
    }
    int64_t order_id = 0;
    size_t eligible = 0;
    for (int i = 0; i < span; i++) {
        int day = g->start_day + i;
        double expect = (double)g->norders * w[i] / sum;
        size_t n = (size_t)expect + (rng_unit(r) < expect - floor(expect));
        while (eligible < g->ncust && g->cust[eligible].signup_day <= day)
            eligible++;
        if (n == 0 || eligible == 0)
            continue;
        if (n > cap) {
            struct day_order *grown = realloc(day_orders, n * sizeof *grown);
            if (grown != NULL)
                day_orders = grown;
            size_t *grown_buyers = realloc(buyers, n * sizeof *grown_buyers);
            if (grown_buyers != NULL)
                buyers = grown_buyers;
            if (grown == NULL || grown_buyers == NULL) {
                fail(g, "out of memory for %zu orders in a day", n);
                goto cleanup;
            }
            cap = n;
        }
        /* Customers are drawn first so each order's channel (and so its
         * hour) fits the buyer; ids then follow the time of day. */
        for (size_t k = 0; k < n; k++) {
            buyers[k] = pick_customer(g, eligible);
            day_orders[k].channel = pick_channel(g, day, &g->cust[buyers[k]]);
            day_orders[k].secs = pick_order_secs(g, day_orders[k].channel);
            day_orders[k].seq = (int)k;
        }
        qsort(day_orders, n, sizeof *day_orders, cmp_day_order);
        for (size_t k = 0; k < n; k++) {
            if (gen_order(g, ++order_id, day, &day_orders[k], buyers[day_orders[k].seq]) != 0)
                goto cleanup;
        }
    }
    ret = 0;
cleanup:
    free(w);
    free(day_orders);
    free(buyers);
    return ret;
}

static int next_month_start(int day)
{
    int y, m, d;
    civil_from_days(day, &y, &m, &d);
    return m == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, m + 1, 1);
}

/* Ledger entries not tied to an order: monthly service fees of enterprise
 * accounts and occasional goodwill credits (negative adjustments). */
static int gen_account_entries(struct gen *g)
{
    struct rng *r = &g->rng;
    for (size_t i = 0; i < g->ncust; i++) {
        const struct customer *c = &g->cust[i];
        int64_t cust_id = (int64_t)i + 1;
        if (c->segment == SEG_ENTERPRISE) {
            int64_t fee = rng_chance(r, 0.3) ? 14900 : 4900;
            /* billed from the first of the month after signup, within the window */
            int first = next_month_start(c->signup_day);
            if (first < g->start_day)
                first = next_month_start(g->start_day - 1);
            for (int day = first; day <= g->end_day; day = next_month_start(day)) {
                int64_t ts = (int64_t)day * DAY_SECONDS + 6 * 3600 + rng_below(r, 3600);
                int st = rng_chance(r, 0.03) ? TS_FAILED : TS_COMPLETED;
                if (add_txn(g, cust_id, 0, fee, st, TT_FEE, ts) != 0)
                    return -1;
            }
        }
        if (c->orders > 0 && rng_chance(r, 0.05)) {
            int from = c->signup_day < g->start_day ? g->start_day : c->signup_day;
            int day = from + rng_below(r, g->end_day - from + 1);
            int64_t ts = (int64_t)day * DAY_SECONDS + rng_below(r, DAY_SECONDS);
            int64_t credit = -(int64_t)rng_between(r, 5, 50) * 100;
            if (add_txn(g, cust_id, 0, credit, rng_chance(r, 0.1) ? TS_REVERSED : TS_COMPLETED,
                        TT_ADJUSTMENT, ts) != 0)
                return -1;
        }
    }
    return 0;
}

static int deactivate_churned(struct gen *g)
{
    sqlite3_stmt *s = NULL;
    char end[11];
    int ret = -1;
    demo_format_date(g->end_day, end);
    if (sqlite3_prepare_v2(g->db, deactivate_sql, -1, &s, NULL) != SQLITE_OK) {
        fail(g, "preparing the churn update: %s", sqlite3_errmsg(g->db));
        goto cleanup;
    }
    if (bind_text(s, 1, end) != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE) {
        fail(g, "marking churned customers: %s", sqlite3_errmsg(g->db));
        goto cleanup;
    }
    ret = 0;
cleanup:
    sqlite3_finalize(s);
    return ret;
}

/* ---- files ---- */

static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* Moves tmp onto out: rename when replacing is allowed, link+unlink
 * otherwise so a file that appeared meanwhile is never clobbered. */
static int publish(struct gen *g, const char *tmp, const char *out, int force)
{
    if (force) {
        if (rename(tmp, out) != 0)
            return fail(g, "cannot rename %s to %s: %s", tmp, out, strerror(errno));
    } else if (link(tmp, out) == 0) {
        unlink(tmp);
    } else if (errno == EEXIST) {
        fail(g, "%s already exists; pass --force to replace it", out);
        return -2;
    } else {
        /* file systems without hard links: best effort check, then rename */
        struct stat sb;
        if (stat(out, &sb) == 0) {
            fail(g, "%s already exists; pass --force to replace it", out);
            return -2;
        }
        if (rename(tmp, out) != 0)
            return fail(g, "cannot rename %s to %s: %s", tmp, out, strerror(errno));
    }
    char *dir = dir_of(out);
    if (dir != NULL) {
        fsync_path(dir, O_RDONLY | O_DIRECTORY); /* durability only; the file is already in place */
        free(dir);
    }
    return 0;
}

static int open_db(struct gen *g, const char *tmp)
{
    if (sqlite3_open_v2(tmp, &g->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        char *dir = dir_of(tmp);
        fail(g, "cannot create %s: %s (does the directory %s exist and is it writable?)", tmp,
             g->db ? sqlite3_errmsg(g->db) : "out of memory", dir ? dir : "?");
        free(dir);
        return -1;
    }
    /* Nothing to recover if generation dies half-way: the file is a .tmp. */
    if (exec_sql(g, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-65536;"
                    "PRAGMA temp_store=MEMORY; PRAGMA locking_mode=EXCLUSIVE;",
                 "setting up the database") != 0)
        return -1;
    if (exec_sql(g, schema_sql, "creating the schema") != 0)
        return -1;
    for (int t = 0; t < DEMO_TABLE_COUNT; t++) {
        if (sqlite3_prepare_v3(g->db, insert_sql[t], -1, SQLITE_PREPARE_PERSISTENT, &g->ins[t],
                               NULL) != SQLITE_OK)
            return fail(g, "preparing the insert into %s: %s", table_names[t], sqlite3_errmsg(g->db));
    }
    return 0;
}

static int alloc_model(struct gen *g, const struct demo_opts *o)
{
    g->ncust = (size_t)llround(BASE_CUSTOMERS * o->scale);
    g->nprod = (size_t)llround(BASE_PRODUCTS * o->scale);
    g->norders = (size_t)llround(BASE_ORDERS * o->scale);
    if (g->ncust < 50)
        g->ncust = 50;
    if (g->nprod < 40)
        g->nprod = 40;
    if (g->norders < 100)
        g->norders = 100;
    g->cust = calloc(g->ncust, sizeof *g->cust);
    g->cust_cum = calloc(g->ncust, sizeof *g->cust_cum);
    g->prod = calloc(g->nprod, sizeof *g->prod);
    g->country_cum = calloc(demo_country_count, sizeof *g->country_cum);
    int ok = g->cust && g->cust_cum && g->prod && g->country_cum;
    for (int m = 0; m < 12; m++) {
        g->prod_cum[m] = calloc(g->nprod, sizeof *g->prod_cum[m]);
        ok = ok && g->prod_cum[m] != NULL;
    }
    if (!ok)
        return fail(g, "out of memory for scale %g", o->scale);
    double cum = 0;
    for (size_t i = 0; i < demo_country_count; i++) {
        cum += demo_countries[i].weight;
        g->country_cum[i] = cum;
    }
    return 0;
}

static void free_model(struct gen *g)
{
    free(g->cust);
    free(g->cust_cum);
    free(g->prod);
    free(g->country_cum);
    for (int m = 0; m < 12; m++)
        free(g->prod_cum[m]);
}

static int fill(struct gen *g)
{
    if (exec_sql(g, "BEGIN", "starting the transaction") != 0 || gen_regions(g) != 0 ||
        gen_categories(g) != 0 || gen_customers(g) != 0 || gen_products(g) != 0 ||
        gen_orders(g) != 0 || gen_account_entries(g) != 0 ||
        exec_sql(g, index_sql, "creating indexes") != 0 || deactivate_churned(g) != 0 ||
        exec_sql(g, "PRAGMA user_version=1", "setting the schema version") != 0 ||
        exec_sql(g, "COMMIT", "committing") != 0 || exec_sql(g, "ANALYZE", "analyzing") != 0)
        return -1;
    return 0;
}

int demo_generate(const struct demo_opts *o, struct demo_stats *st, char *err, size_t errlen)
{
    struct gen g;
    char *tmp = NULL;
    int ret = -1, tmp_made = 0;
    struct stat sb;

    memset(&g, 0, sizeof g);
    memset(st, 0, sizeof *st);
    g.err = err;
    g.errlen = errlen;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (o->out == NULL || o->out[0] == '\0') {
        fail(&g, "no output path given");
        goto cleanup;
    }
    if (!(o->scale > 0.0 && o->scale <= DEMO_SCALE_MAX)) {
        fail(&g, "scale must be > 0 and <= %g, got %g", DEMO_SCALE_MAX, o->scale);
        goto cleanup;
    }
    if (!o->force && stat(o->out, &sb) == 0) {
        fail(&g, "%s already exists; pass --force to replace it", o->out);
        ret = -2;
        goto cleanup;
    }
    g.end_day = o->end_day;
    g.start_day = o->end_day - (HISTORY_DAYS - 1);
    g.end_ts = (int64_t)g.end_day * DAY_SECONDS + DAY_SECONDS - 1;
    rng_seed(&g.rng, o->seed);
    if (alloc_model(&g, o) != 0)
        goto cleanup;

    size_t tlen = strlen(o->out) + 5;
    tmp = malloc(tlen);
    if (tmp == NULL) {
        fail(&g, "out of memory");
        goto cleanup;
    }
    snprintf(tmp, tlen, "%s.tmp", o->out);
    if (unlink(tmp) != 0 && errno != ENOENT) {
        fail(&g, "cannot remove the stale %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    tmp_made = 1;
    if (open_db(&g, tmp) != 0 || fill(&g) != 0)
        goto cleanup;
    for (int t = 0; t < DEMO_TABLE_COUNT; t++) {
        sqlite3_finalize(g.ins[t]);
        g.ins[t] = NULL;
    }
    int crc = sqlite3_close(g.db);
    g.db = NULL;
    if (crc != SQLITE_OK) {
        fail(&g, "closing %s: %s", tmp, sqlite3_errstr(crc));
        goto cleanup;
    }
    if (fsync_path(tmp, O_RDONLY) != 0) {
        fail(&g, "cannot sync %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    int prc = publish(&g, tmp, o->out, o->force);
    if (prc != 0) {
        ret = prc;
        goto cleanup;
    }
    tmp_made = 0;
    for (int t = 0; t < DEMO_TABLE_COUNT; t++) {
        st->table[t] = table_names[t];
        st->rows[t] = g.rows[t];
        st->total += g.rows[t];
    }
    ret = 0;
cleanup:
    for (int t = 0; t < DEMO_TABLE_COUNT; t++)
        sqlite3_finalize(g.ins[t]);
    if (g.db != NULL)
        sqlite3_close(g.db);
    if (tmp_made)
        unlink(tmp);
    free(tmp);
    free_model(&g);
    return ret;
}
