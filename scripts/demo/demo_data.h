/*
 * demo_data - the fixed reference lists the demo generator draws from:
 * regions, countries with their cities, person names, product categories,
 * brands and product nouns.
 * It is constant data only: no randomness and no side effects live here, so
 * changing a list changes the generated database in an obvious way.
 */
#ifndef DC_DEMO_DATA_H
#define DC_DEMO_DATA_H

#include <stddef.h>

#define DEMO_MAX_CITIES 6
#define DEMO_MAX_NOUNS 6

struct demo_country {
    const char *name;
    int region_id; /* 1-based index into demo_regions */
    int weight;    /* relative share of customers */
    const char *cities[DEMO_MAX_CITIES]; /* NULL-terminated when shorter */
};

struct demo_top_category {
    const char *name;
    const char *sku_prefix; /* three capital letters */
};

struct demo_subcategory {
    const char *name;
    int top;      /* 0-based index into demo_top_categories */
    int weight;   /* relative share of the product catalogue */
    int price_lo; /* whole dollars */
    int price_hi;
    const char *nouns[DEMO_MAX_NOUNS]; /* NULL-terminated when shorter */
};

extern const char *const demo_regions[];
extern const size_t demo_region_count;

extern const struct demo_country demo_countries[];
extern const size_t demo_country_count;

extern const char *const demo_first_names[];
extern const size_t demo_first_name_count;
extern const char *const demo_last_names[];
extern const size_t demo_last_name_count;
extern const char *const demo_email_domains[];
extern const size_t demo_email_domain_count;

extern const struct demo_top_category demo_top_categories[];
extern const size_t demo_top_category_count;
extern const struct demo_subcategory demo_subcategories[];
extern const size_t demo_subcategory_count;

extern const char *const demo_brands[];
extern const size_t demo_brand_count;
extern const char *const demo_product_styles[];
extern const size_t demo_product_style_count;

#endif
