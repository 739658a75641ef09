-- The PostgreSQL security suite's database: the same small HR schema as
-- hr.sql, whose secrets are canaries. Rows outside the EU and every raw
-- SSN, phone, salary and secret hold the text CANARY or a value pg_run.sh
-- lists, so a leak shows up in the output whatever the query shape. A
-- view and a user-defined function exist only to be refused.
CREATE TABLE departments (dept_id integer PRIMARY KEY, dname text NOT NULL);
CREATE TABLE employees (
  id integer PRIMARY KEY,
  name text NOT NULL,
  region text NOT NULL,
  email text,
  ssn text,
  phone text,
  salary integer,
  notes text,
  dept_id integer REFERENCES departments(dept_id)
);
CREATE TABLE secrets (id integer PRIMARY KEY, payload text);
CREATE TABLE projects (project_id integer PRIMARY KEY, title text, dept_id integer);
CREATE VIEW staff_directory AS SELECT name, email, ssn, region FROM employees;
-- Views the gate puts in place of their names (a view of a view, one that
-- derives from masked columns), and views it refuses.
CREATE VIEW directory_names AS SELECT name, ssn FROM staff_directory;
CREATE VIEW ssn_prefixes AS SELECT id, left(ssn, 6) AS ssn6, upper(email) AS mail FROM employees;
CREATE VIEW barrier_names WITH (security_barrier) AS SELECT id, name FROM employees;
CREATE MATERIALIZED VIEW emp_snapshot AS SELECT id, name, ssn FROM employees;
CREATE VIEW secret_view AS SELECT payload FROM secrets;
CREATE VIEW pay_view AS SELECT name, salary FROM employees;
CREATE FUNCTION leak_secrets() RETURNS SETOF text LANGUAGE sql STABLE
  AS 'SELECT payload FROM secrets';
CREATE VIEW udf_view AS SELECT leak_secrets() AS s;
CREATE FUNCTION lower(integer) RETURNS text LANGUAGE sql IMMUTABLE
  AS 'SELECT string_agg(ssn, '','') FROM employees';
INSERT INTO departments VALUES (1, 'Research'), (2, 'Sales');
INSERT INTO employees VALUES
  (1, 'Alice Martin', 'EU', 'alice@example.eu', '111-22-3331', '+33 1 11 11 11 11', 917301, 'CANARY note one', 1),
  (2, 'Bruno Costa',  'EU', 'bruno@example.eu', '111-22-3332', '+351 2 22 22 22', 917302, 'CANARY note two', 2),
  (3, 'Chloe Weber',  'EU', 'chloe@example.eu', '111-22-3333', '+49 3 33 33 33', 917303, 'CANARY note three', 1),
  (4, 'CANARY Hidden One', 'US', 'hidden1@example.com', '999-88-7771', '+1 555 0101', 917304, 'CANARY us note', 1),
  (5, 'CANARY Hidden Two', 'US', 'hidden2@example.com', '999-88-7772', '+1 555 0102', 917305, 'CANARY us note', 2),
  (6, 'CANARY Hidden Three', 'APAC', 'hidden3@example.com', '999-88-7773', '+81 3 0000 0000', 917306, 'CANARY apac', 2);
INSERT INTO secrets VALUES (1, 'CANARY-TOPSECRET-PAYLOAD');
INSERT INTO projects VALUES (1, 'Atlas', 1), (2, 'Borealis', 2);
