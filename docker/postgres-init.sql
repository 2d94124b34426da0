-- PostgreSQL first-start script for docker-compose.yml: one database per service.
-- The official postgres image runs every *.sql file in /docker-entrypoint-initdb.d once, as POSTGRES_USER,
-- when the data volume is empty. Each service creates its own tables (migrations run at start-up).
CREATE DATABASE identity;
CREATE DATABASE patients;
