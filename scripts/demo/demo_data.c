#include "demo_data.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *const demo_regions[] = {
    "North America", "Europe", "Latin America", "Asia Pacific", "Middle East & Africa",
};
const size_t demo_region_count = COUNT(demo_regions);

/* Weights roughly follow the size of each market for an online retailer
 * that started in North America and Western Europe. */
const struct demo_country demo_countries[] = {
    {"United States", 1, 300, {"New York", "Los Angeles", "Chicago", "Houston", "Seattle", "Austin"}},
    {"Canada", 1, 40, {"Toronto", "Vancouver", "Montreal", "Calgary"}},
    {"United Kingdom", 2, 60, {"London", "Manchester", "Birmingham", "Edinburgh"}},
    {"Germany", 2, 70, {"Berlin", "Munich", "Hamburg", "Cologne"}},
    {"France", 2, 55, {"Paris", "Lyon", "Marseille", "Toulouse"}},
    {"Spain", 2, 35, {"Madrid", "Barcelona", "Valencia", "Seville"}},
    {"Italy", 2, 35, {"Rome", "Milan", "Naples", "Turin"}},
    {"Netherlands", 2, 20, {"Amsterdam", "Rotterdam", "Utrecht"}},
    {"Belgium", 2, 10, {"Brussels", "Antwerp", "Ghent"}},
    {"Sweden", 2, 12, {"Stockholm", "Gothenburg", "Malmo"}},
    {"Norway", 2, 8, {"Oslo", "Bergen"}},
    {"Denmark", 2, 8, {"Copenhagen", "Aarhus"}},
    {"Poland", 2, 18, {"Warsaw", "Krakow", "Gdansk"}},
    {"Ireland", 2, 8, {"Dublin", "Cork"}},
    {"Portugal", 2, 9, {"Lisbon", "Porto"}},
    {"Switzerland", 2, 10, {"Zurich", "Geneva", "Basel"}},
    {"Austria", 2, 9, {"Vienna", "Graz"}},
    {"Mexico", 3, 30, {"Mexico City", "Guadalajara", "Monterrey"}},
    {"Brazil", 3, 40, {"Sao Paulo", "Rio de Janeiro", "Brasilia", "Belo Horizonte"}},
    {"Argentina", 3, 15, {"Buenos Aires", "Cordoba", "Rosario"}},
    {"Chile", 3, 9, {"Santiago", "Valparaiso"}},
    {"Colombia", 3, 12, {"Bogota", "Medellin", "Cali"}},
    {"Peru", 3, 7, {"Lima", "Arequipa"}},
    {"Japan", 4, 45, {"Tokyo", "Osaka", "Yokohama", "Nagoya"}},
    {"Australia", 4, 30, {"Sydney", "Melbourne", "Brisbane", "Perth"}},
    {"India", 4, 40, {"Mumbai", "Delhi", "Bengaluru", "Chennai"}},
    {"China", 4, 25, {"Shanghai", "Beijing", "Shenzhen"}},
    {"Singapore", 4, 8, {"Singapore"}},
    {"South Korea", 4, 20, {"Seoul", "Busan", "Incheon"}},
    {"New Zealand", 4, 6, {"Auckland", "Wellington"}},
    {"Indonesia", 4, 10, {"Jakarta", "Surabaya"}},
    {"Philippines", 4, 8, {"Manila", "Cebu"}},
    {"United Arab Emirates", 5, 10, {"Dubai", "Abu Dhabi"}},
    {"Saudi Arabia", 5, 9, {"Riyadh", "Jeddah"}},
    {"South Africa", 5, 10, {"Johannesburg", "Cape Town", "Durban"}},
    {"Nigeria", 5, 8, {"Lagos", "Abuja"}},
    {"Egypt", 5, 7, {"Cairo", "Alexandria"}},
    {"Kenya", 5, 5, {"Nairobi", "Mombasa"}},
    {"Israel", 5, 7, {"Tel Aviv", "Jerusalem"}},
    {"Morocco", 5, 5, {"Casablanca", "Rabat"}},
};
const size_t demo_country_count = COUNT(demo_countries);

const char *const demo_first_names[] = {
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda",
    "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
    "Thomas", "Sarah", "Daniel", "Karen", "Matthew", "Nancy", "Anthony", "Lisa",
    "Mark", "Emily", "Paul", "Michelle", "Steven", "Laura", "Andrew", "Rebecca",
    "Lukas", "Sophie", "Felix", "Hannah", "Louis", "Camille", "Hugo", "Chloe",
    "Mateo", "Lucia", "Santiago", "Valentina", "Diego", "Camila", "Gabriel", "Isabela",
    "Marco", "Giulia", "Luca", "Francesca", "Jan", "Anna", "Piotr", "Zofia",
    "Erik", "Ingrid", "Lars", "Astrid", "Sean", "Aoife", "Hiroshi", "Yuki",
    "Kenji", "Sakura", "Wei", "Mei", "Min-jun", "Ji-woo", "Arjun", "Priya",
    "Rahul", "Ananya", "Omar", "Layla", "Ahmed", "Fatima", "Yusuf", "Amara",
    "Chidi", "Ngozi", "Thabo", "Zanele", "Noah", "Olivia", "Liam", "Ava",
};
const size_t demo_first_name_count = COUNT(demo_first_names);

const char *const demo_last_names[] = {
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Taylor", "Thomas",
    "Moore", "Martin", "Jackson", "Thompson", "White", "Harris", "Clark", "Lewis",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Green", "Baker",
    "Mueller", "Schmidt", "Schneider", "Fischer", "Weber", "Dubois", "Moreau", "Laurent",
    "Bernard", "Rossi", "Russo", "Ferrari", "Esposito", "Fernandez", "Gonzalez", "Sanchez",
    "Silva", "Santos", "Oliveira", "Pereira", "Kowalski", "Nowak", "Jansen", "de Vries",
    "Andersson", "Johansson", "Hansen", "Nielsen", "Murphy", "O'Brien", "Kelly", "Byrne",
    "Tanaka", "Suzuki", "Sato", "Watanabe", "Wang", "Li", "Zhang", "Chen",
    "Kim", "Lee", "Park", "Patel", "Sharma", "Singh", "Gupta", "Haddad",
    "Khan", "Hassan", "Mansour", "Okafor", "Adeyemi", "Mokoena", "Naidoo", "Cohen",
};
const size_t demo_last_name_count = COUNT(demo_last_names);

/* Reserved documentation domains: no generated address can reach anyone. */
const char *const demo_email_domains[] = {
    "example.com", "example.net", "example.org", "mail.example.com",
};
const size_t demo_email_domain_count = COUNT(demo_email_domains);

const struct demo_top_category demo_top_categories[] = {
    {"Electronics", "ELC"},
    {"Home & Kitchen", "HOM"},
    {"Clothing", "CLO"},
    {"Sports & Outdoors", "SPO"},
    {"Beauty & Personal Care", "BTY"},
    {"Books & Media", "BKM"},
    {"Toys & Baby", "TOY"},
    {"Grocery & Gourmet", "GRO"},
};
const size_t demo_top_category_count = COUNT(demo_top_categories);

const struct demo_subcategory demo_subcategories[] = {
    {"Audio", 0, 6, 25, 350, {"Headphones", "Earbuds", "Bluetooth Speaker", "Soundbar"}},
    {"Computers & Tablets", 0, 5, 80, 1800, {"Laptop", "Tablet", "Monitor", "Mechanical Keyboard", "Wireless Mouse"}},
    {"Phone Accessories", 0, 6, 8, 90, {"Phone Case", "USB-C Charger", "Power Bank", "Screen Protector"}},
    {"Cameras", 0, 3, 40, 900, {"Action Camera", "Camera Lens", "Tripod", "Camera Bag"}},
    {"Smart Home", 0, 4, 15, 250, {"Smart Plug", "Thermostat", "Video Doorbell", "Smart Bulb"}},
    {"Cookware", 1, 4, 20, 250, {"Frying Pan", "Saucepan", "Dutch Oven", "Knife Set"}},
    {"Small Appliances", 1, 5, 25, 400, {"Blender", "Coffee Maker", "Toaster", "Air Fryer", "Electric Kettle"}},
    {"Bedding", 1, 3, 20, 200, {"Duvet", "Pillow", "Sheet Set", "Throw Blanket"}},
    {"Furniture", 1, 3, 60, 900, {"Desk Chair", "Bookshelf", "Side Table", "Standing Desk"}},
    {"Home Decor", 1, 4, 10, 150, {"Vase", "Wall Clock", "Picture Frame", "Table Lamp"}},
    {"Men's Apparel", 2, 5, 15, 180, {"T-Shirt", "Jacket", "Chinos", "Sweater", "Hoodie"}},
    {"Women's Apparel", 2, 6, 15, 220, {"Dress", "Blouse", "Cardigan", "Jeans", "Coat"}},
    {"Footwear", 2, 4, 30, 220, {"Running Shoes", "Sneakers", "Boots", "Sandals"}},
    {"Bags & Accessories", 2, 4, 12, 300, {"Backpack", "Wallet", "Belt", "Sunglasses", "Watch"}},
    {"Fitness", 3, 4, 10, 400, {"Yoga Mat", "Dumbbell Set", "Resistance Bands", "Kettlebell"}},
    {"Camping", 3, 3, 15, 450, {"Tent", "Sleeping Bag", "Headlamp", "Camping Stove"}},
    {"Cycling", 3, 3, 10, 200, {"Bike Helmet", "Bike Light", "Cycling Gloves", "Bike Lock"}},
    {"Team Sports", 3, 2, 15, 180, {"Soccer Ball", "Basketball", "Tennis Racket", "Goalkeeper Gloves"}},
    {"Skincare", 4, 4, 8, 90, {"Moisturizer", "Face Serum", "Cleanser", "Sunscreen"}},
    {"Hair Care", 4, 3, 6, 250, {"Shampoo", "Conditioner", "Hair Dryer", "Hair Straightener"}},
    {"Fragrance", 4, 2, 25, 160, {"Eau de Parfum", "Eau de Toilette", "Body Mist"}},
    {"Fiction", 5, 4, 8, 35, {"Novel", "Short Story Collection", "Graphic Novel"}},
    {"Non-Fiction", 5, 3, 10, 50, {"Cookbook", "Biography", "Travel Guide", "History Book"}},
    {"Games & Puzzles", 5, 3, 10, 90, {"Board Game", "Jigsaw Puzzle", "Card Game"}},
    {"Toys", 6, 4, 8, 150, {"Building Set", "Plush Toy", "RC Car", "Doll House"}},
    {"Baby Care", 6, 3, 10, 450, {"Stroller", "Baby Monitor", "Diaper Bag", "High Chair"}},
    {"Coffee & Tea", 7, 4, 6, 45, {"Coffee Beans", "Green Tea", "Espresso Pods", "Herbal Tea"}},
    {"Snacks", 7, 3, 3, 25, {"Trail Mix", "Dark Chocolate", "Granola", "Protein Bars"}},
};
const size_t demo_subcategory_count = COUNT(demo_subcategories);

const char *const demo_brands[] = {
    "Aurora", "Northwind", "Bluepeak", "Cedarline", "Lumen", "Verde", "Halcyon", "Ironwood",
    "Solstice", "Brightline", "Kestrel", "Marlow", "Tidewater", "Quill", "Oakridge", "Nimbus",
};
const size_t demo_brand_count = COUNT(demo_brands);

const char *const demo_product_styles[] = {
    "Classic", "Pro", "Ultra", "Essential", "Premium", "Compact", "Deluxe", "Eco",
    "Urban", "Everyday", "Signature", "Active", "Lite", "Max", "Studio", "Travel",
};
const size_t demo_product_style_count = COUNT(demo_product_styles);
